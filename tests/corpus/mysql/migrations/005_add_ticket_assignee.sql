ALTER TABLE tickets ADD COLUMN assignee_uuid CHAR(36) NULL AFTER org_uuid;
ALTER TABLE tickets ADD CONSTRAINT tickets_assignee_fk FOREIGN KEY (assignee_uuid) REFERENCES users (uuid) ON DELETE SET NULL;
