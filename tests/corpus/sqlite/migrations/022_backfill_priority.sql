UPDATE tickets SET priority = 3 WHERE upper(subject) LIKE '%URGENT%';
UPDATE tickets SET updated_at = created_at WHERE updated_at IS NULL
