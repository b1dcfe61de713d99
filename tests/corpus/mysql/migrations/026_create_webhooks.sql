CREATE TABLE webhooks (
  uuid CHAR(36) NOT NULL PRIMARY KEY,
  org_uuid CHAR(36) NOT NULL,
  url VARCHAR(700) NOT NULL,
  secret VARCHAR(128) NOT NULL,
  events TEXT NOT NULL,
  active BOOLEAN NOT NULL DEFAULT TRUE,
  UNIQUE KEY webhooks_org_url (org_uuid, url(255)),
  FOREIGN KEY (org_uuid) REFERENCES organizations (uuid) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;