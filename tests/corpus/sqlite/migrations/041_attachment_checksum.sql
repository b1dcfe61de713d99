ALTER TABLE attachments ADD COLUMN sha256 TEXT CHECK (sha256 IS NULL OR length(sha256) = 64);
