CREATE TABLE organizations (
  uuid          TEXT NOT NULL PRIMARY KEY,
  name          TEXT NOT NULL,
  billing_email TEXT NOT NULL
);

CREATE TABLE users_organizations (
  uuid      TEXT    NOT NULL PRIMARY KEY,
  user_uuid TEXT    NOT NULL REFERENCES users (uuid) ON DELETE CASCADE,
  org_uuid  TEXT    NOT NULL REFERENCES organizations (uuid) ON DELETE CASCADE,
  access_all BOOLEAN NOT NULL,
  akey      TEXT    NOT NULL,
  status    INTEGER NOT NULL,
  atype     INTEGER NOT NULL CHECK (atype BETWEEN 0 AND 3),
  UNIQUE (user_uuid, org_uuid)
);
