ALTER TABLE tickets ADD COLUMN assignee_uuid TEXT REFERENCES users (uuid) ON DELETE SET NULL;
CREATE INDEX tickets_assignee ON tickets (assignee_uuid);
