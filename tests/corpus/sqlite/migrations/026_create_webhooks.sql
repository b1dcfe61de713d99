CREATE TABLE webhooks (
    uuid       TEXT NOT NULL PRIMARY KEY,
    org_uuid   TEXT NOT NULL REFERENCES organizations (uuid) ON DELETE CASCADE,
    url        TEXT NOT NULL,
    secret     TEXT NOT NULL,
    events     TEXT NOT NULL DEFAULT '[]',
    active     BOOLEAN NOT NULL DEFAULT 1,
    UNIQUE (org_uuid, url)
);