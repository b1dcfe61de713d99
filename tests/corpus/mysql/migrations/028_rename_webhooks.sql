RENAME TABLE webhooks TO org_webhooks;
