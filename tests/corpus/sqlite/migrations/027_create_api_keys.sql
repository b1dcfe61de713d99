CREATE TABLE api_keys (
    uuid        TEXT NOT NULL PRIMARY KEY,
    org_uuid    TEXT NOT NULL REFERENCES organizations (uuid) ON DELETE CASCADE,
    atype       INTEGER NOT NULL,
    api_key     TEXT NOT NULL UNIQUE,
    revision_date DATETIME NOT NULL
);
