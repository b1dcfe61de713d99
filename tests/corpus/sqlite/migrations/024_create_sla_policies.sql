CREATE TABLE sla_policies (
    org_uuid      TEXT    NOT NULL REFERENCES organizations (uuid) ON DELETE CASCADE,
    priority      INTEGER NOT NULL,
    response_mins INTEGER NOT NULL CHECK (response_mins > 0),
    resolve_mins  INTEGER NOT NULL CHECK (resolve_mins >= response_mins),
    PRIMARY KEY (org_uuid, priority)
);
