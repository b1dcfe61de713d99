CREATE TABLE webhook_deliveries (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_uuid uuid        NOT NULL REFERENCES org_webhooks (uuid) ON DELETE CASCADE,
    status_code  smallint,
    attempt      integer     NOT NULL DEFAULT 1,
    sent_at      timestamptz NOT NULL DEFAULT now()
);
