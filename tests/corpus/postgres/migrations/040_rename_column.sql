ALTER TABLE org_webhooks RENAME COLUMN events TO event_types;
CREATE INDEX org_webhooks_active ON org_webhooks (org_uuid) WHERE active;
