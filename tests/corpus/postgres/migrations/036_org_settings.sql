CREATE TABLE org_settings (
    org_uuid uuid NOT NULL REFERENCES organizations (uuid) ON DELETE CASCADE,
    key      text NOT NULL,
    value    jsonb,
    PRIMARY KEY (org_uuid, key)
);
INSERT INTO org_settings (org_uuid, key, value)
SELECT uuid, 'timezone', to_jsonb('UTC'::text) FROM organizations;
