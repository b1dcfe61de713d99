ALTER TABLE tickets ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}'::jsonb;
CREATE INDEX tickets_metadata ON tickets USING gin (metadata jsonb_path_ops);
