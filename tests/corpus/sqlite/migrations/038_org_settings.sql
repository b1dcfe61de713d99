CREATE TABLE org_settings (
    org_uuid TEXT NOT NULL REFERENCES organizations (uuid) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT,
    PRIMARY KEY (org_uuid, key)
) WITHOUT ROWID;
INSERT INTO org_settings (org_uuid, key, value)
SELECT uuid, 'timezone', 'UTC' FROM organizations;
