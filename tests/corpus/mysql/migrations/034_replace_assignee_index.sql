ALTER TABLE tickets DROP FOREIGN KEY tickets_assignee_fk;
DROP INDEX tickets_assignee_fk ON tickets;
CREATE INDEX tickets_assignee_status ON tickets (assignee_uuid, status);
ALTER TABLE tickets ADD CONSTRAINT tickets_assignee_fk FOREIGN KEY (assignee_uuid) REFERENCES users (uuid) ON DELETE SET NULL;
