ALTER TABLE attachments RENAME COLUMN akey TO encryption_key;
