ALTER TABLE csat_responses DROP COLUMN remark;
REFRESH MATERIALIZED VIEW ticket_stats;
