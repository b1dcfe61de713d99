-- As the application runs it: drop the auto-named foreign key only where an older
-- release created it (fresh installs of some versions never did).
SET @fk_exists = (SELECT COUNT(*) FROM information_schema.table_constraints
                   WHERE constraint_schema = DATABASE() AND table_name = 'comments'
                     AND constraint_name = 'comments_ibfk_2' AND constraint_type = 'FOREIGN KEY');
SET @drop_fk = IF(@fk_exists > 0, 'ALTER TABLE comments DROP FOREIGN KEY comments_ibfk_2', 'SELECT 1');
PREPARE stmt FROM @drop_fk;
EXECUTE stmt;
DEALLOCATE PREPARE stmt;
