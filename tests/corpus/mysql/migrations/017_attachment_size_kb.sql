ALTER TABLE attachments ADD COLUMN size_kb INT AS (file_size DIV 1024) VIRTUAL;
