CREATE MATERIALIZED VIEW ticket_stats AS
SELECT o.uuid AS org_uuid,
       count(t.id) AS tickets,
       count(t.id) FILTER (WHERE t.status = 'closed') AS closed,
       avg(c.score) AS avg_score
  FROM organizations o
  LEFT JOIN tickets t ON t.org_uuid = o.uuid
  LEFT JOIN csat_responses c ON c.ticket_id = t.id
 GROUP BY o.uuid
WITH DATA;
CREATE UNIQUE INDEX ticket_stats_org ON ticket_stats (org_uuid);
