CREATE TABLE org_settings (
  org_uuid CHAR(36) NOT NULL,
  `key` VARCHAR(64) NOT NULL,
  `value` TEXT,
  PRIMARY KEY (org_uuid, `key`),
  FOREIGN KEY (org_uuid) REFERENCES organizations (uuid) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO org_settings (org_uuid, `key`, `value`) SELECT uuid, 'timezone', 'UTC' FROM organizations;
