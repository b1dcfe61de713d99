SET FOREIGN_KEY_CHECKS=0;
CREATE TABLE webhook_deliveries (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  webhook_uuid CHAR(36) NOT NULL,
  attempt_of BIGINT NULL,
  status_code SMALLINT,
  attempt INT NOT NULL DEFAULT 1,
  sent_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  KEY webhook_deliveries_pending (webhook_uuid, status_code),
  CONSTRAINT webhook_deliveries_hook FOREIGN KEY (webhook_uuid) REFERENCES org_webhooks (uuid) ON DELETE CASCADE,
  CONSTRAINT webhook_deliveries_retry FOREIGN KEY (attempt_of) REFERENCES webhook_retries (id)
) ENGINE=InnoDB;
CREATE TABLE webhook_retries (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  due_at DATETIME NOT NULL
) ENGINE=InnoDB;
SET FOREIGN_KEY_CHECKS=1;
