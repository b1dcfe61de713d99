CREATE TABLE audit_log (
    id          INTEGER  PRIMARY KEY AUTOINCREMENT,
    org_uuid    TEXT     REFERENCES organizations (uuid) ON DELETE CASCADE,
    actor_uuid  TEXT,
    event_type  INTEGER  NOT NULL,
    payload     TEXT     CHECK (payload IS NULL OR json_valid(payload)),
    created_at  DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX audit_log_org_time ON audit_log (org_uuid, created_at);
