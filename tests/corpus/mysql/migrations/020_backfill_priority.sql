UPDATE tickets SET priority = 3 WHERE UPPER(subject) LIKE '%URGENT%';
