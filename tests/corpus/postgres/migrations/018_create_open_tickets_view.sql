CREATE VIEW open_tickets AS
SELECT t.id, t.org_uuid, t.subject, t.priority, t.updated_at
  FROM tickets t
 WHERE t.status <> 'closed';
