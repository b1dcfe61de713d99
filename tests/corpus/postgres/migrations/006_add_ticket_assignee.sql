ALTER TABLE tickets ADD COLUMN assignee_uuid uuid REFERENCES users (uuid) ON DELETE SET NULL;
