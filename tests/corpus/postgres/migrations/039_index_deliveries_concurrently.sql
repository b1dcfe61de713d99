-- wasmig:no-transaction
-- Deliveries grow fast: build the index without blocking writers.
CREATE INDEX CONCURRENTLY IF NOT EXISTS webhook_deliveries_pending
    ON webhook_deliveries (webhook_uuid, sent_at)
    WHERE status_code IS NULL OR status_code >= 500;
