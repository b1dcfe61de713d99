/* Installs from before 1.0 had a settings table; newer ones never created it. */
DROP TABLE IF EXISTS legacy_settings;
