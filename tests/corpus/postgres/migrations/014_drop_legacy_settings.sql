DROP TABLE IF EXISTS legacy_settings CASCADE;
DROP INDEX IF EXISTS legacy_settings_key;
