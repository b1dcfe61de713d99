ALTER TABLE webhooks RENAME TO org_webhooks;
