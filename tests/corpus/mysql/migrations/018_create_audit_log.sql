CREATE TABLE audit_log (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  org_uuid CHAR(36),
  actor_uuid CHAR(36),
  event_type INT NOT NULL,
  payload LONGTEXT CHECK (payload IS NULL OR JSON_VALID(payload)),
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  KEY audit_log_org_time (org_uuid, created_at),
  CONSTRAINT audit_log_org FOREIGN KEY (org_uuid) REFERENCES organizations (uuid) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='who did what, when';
