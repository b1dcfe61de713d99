ALTER TABLE users ADD COLUMN last_login_at DATETIME NULL;
UPDATE users SET last_login_at = updated_at