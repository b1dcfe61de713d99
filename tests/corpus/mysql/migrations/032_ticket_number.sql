ALTER TABLE tickets ADD COLUMN number INT UNSIGNED NULL;
UPDATE tickets t
  JOIN (SELECT id, ROW_NUMBER() OVER (PARTITION BY org_uuid ORDER BY id) AS n FROM tickets) numbered
    ON numbered.id = t.id
   SET t.number = numbered.n;
ALTER TABLE tickets ADD UNIQUE INDEX tickets_org_number (org_uuid, number);
