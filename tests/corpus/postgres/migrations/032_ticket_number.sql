ALTER TABLE tickets ADD COLUMN number integer;
UPDATE tickets t SET number = numbered.n
  FROM (SELECT id, row_number() OVER (PARTITION BY org_uuid ORDER BY id) AS n FROM tickets) numbered
 WHERE numbered.id = t.id;
ALTER TABLE tickets ADD CONSTRAINT tickets_org_number UNIQUE (org_uuid, number);
