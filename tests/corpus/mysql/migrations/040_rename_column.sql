ALTER TABLE org_webhooks RENAME COLUMN events TO event_types;
ALTER TABLE org_webhooks ADD INDEX org_webhooks_active (org_uuid, active);
