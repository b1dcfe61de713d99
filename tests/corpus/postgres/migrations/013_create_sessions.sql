CREATE TABLE sessions (
    token      text        PRIMARY KEY,
    user_uuid  uuid        NOT NULL REFERENCES users (uuid) ON DELETE CASCADE,
    user_agent text,
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);
