CREATE TABLE audit_log (
    id         bigserial   PRIMARY KEY,
    org_uuid   uuid        REFERENCES organizations (uuid) ON DELETE CASCADE,
    actor_uuid uuid,
    event_type integer     NOT NULL,
    payload    jsonb,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX audit_log_org_time ON audit_log (org_uuid, created_at);
COMMENT ON TABLE audit_log IS 'who did what, when';
