ALTER TABLE attachments RENAME COLUMN akey TO encryption_key;
COMMENT ON COLUMN attachments.encryption_key IS 'wrapped with the organization key';
