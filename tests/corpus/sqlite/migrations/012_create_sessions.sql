CREATE TABLE sessions (
    token      TEXT     NOT NULL PRIMARY KEY,
    user_uuid  TEXT     NOT NULL REFERENCES users (uuid) ON DELETE CASCADE,
    user_agent TEXT,
    expires_at DATETIME NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_expires ON sessions (expires_at);
