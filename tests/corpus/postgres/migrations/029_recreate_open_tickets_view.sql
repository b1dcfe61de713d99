DROP VIEW IF EXISTS open_tickets;
CREATE VIEW open_tickets AS
SELECT t.id, t.org_uuid, t.subject, t.priority, t.due_at, t.assignee_uuid, t.updated_at
  FROM tickets t
 WHERE t.status NOT IN ('closed');
