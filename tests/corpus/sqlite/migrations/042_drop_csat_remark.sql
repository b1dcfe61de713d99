-- Nobody filled it in.
ALTER TABLE csat_responses DROP COLUMN remark;

-- And the old name of the tag index, which some installs created by hand.
DROP INDEX IF EXISTS tags_name_idx;
