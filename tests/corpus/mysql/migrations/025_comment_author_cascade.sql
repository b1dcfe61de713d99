ALTER TABLE comments ADD CONSTRAINT comments_author FOREIGN KEY (author_uuid) REFERENCES users (uuid) ON DELETE SET NULL;
