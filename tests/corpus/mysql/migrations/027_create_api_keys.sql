CREATE TABLE api_keys (
  uuid CHAR(36) NOT NULL PRIMARY KEY,
  org_uuid CHAR(36) NOT NULL,
  atype INTEGER NOT NULL,
  api_key VARCHAR(255) NOT NULL UNIQUE,
  revision_date DATETIME NOT NULL,
  FOREIGN KEY (org_uuid) REFERENCES organizations (uuid) ON DELETE CASCADE
);
