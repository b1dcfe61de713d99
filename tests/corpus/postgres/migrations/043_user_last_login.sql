ALTER TABLE users ADD COLUMN last_login_at timestamptz;
UPDATE users SET last_login_at = updated_at