CREATE TABLE webhook_deliveries (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_uuid TEXT    NOT NULL REFERENCES org_webhooks (uuid) ON DELETE CASCADE,
    status_code  INTEGER,
    attempt      INTEGER NOT NULL DEFAULT 1,
    sent_at      DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (webhook_uuid, sent_at) WHERE status_code IS NULL OR status_code >= 500;
