-- Human-facing ticket numbers, unique per organization.
ALTER TABLE tickets ADD COLUMN number INTEGER;
UPDATE tickets SET number = (
    SELECT COUNT(*) FROM tickets AS earlier
     WHERE earlier.org_uuid = tickets.org_uuid AND earlier.id <= tickets.id
);
CREATE UNIQUE INDEX tickets_org_number ON tickets (org_uuid, number) WHERE number IS NOT NULL;
