ALTER TABLE attachments CHANGE COLUMN akey encryption_key TEXT NULL;
