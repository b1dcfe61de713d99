CREATE TABLE sla_policies (
  org_uuid CHAR(36) NOT NULL,
  priority SMALLINT NOT NULL,
  response_mins INT UNSIGNED NOT NULL,
  resolve_mins INT UNSIGNED NOT NULL,
  PRIMARY KEY (org_uuid, priority),
  CONSTRAINT sla_minutes CHECK (resolve_mins >= response_mins),
  FOREIGN KEY (org_uuid) REFERENCES organizations (uuid) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
