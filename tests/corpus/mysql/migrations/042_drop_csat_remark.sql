-- Nobody filled it in.
ALTER TABLE csat_responses DROP COLUMN remark;
DROP TABLE IF EXISTS tags_old;
