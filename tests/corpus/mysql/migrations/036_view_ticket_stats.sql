CREATE VIEW ticket_stats AS
SELECT o.uuid AS org_uuid,
       COUNT(t.id) AS tickets,
       SUM(t.status = 'closed') AS closed,
       AVG(c.score) AS avg_score
  FROM organizations o
  LEFT JOIN tickets t ON t.org_uuid = o.uuid
  LEFT JOIN csat_responses c ON c.ticket_id = t.id
 GROUP BY o.uuid;
