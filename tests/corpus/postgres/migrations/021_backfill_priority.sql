SET LOCAL lock_timeout = '5s';
UPDATE tickets SET priority = 3 WHERE subject ILIKE '%urgent%';
