RENAME TABLE webhook_retries TO webhook_retry_queue, saved_replies TO canned_replies;
ALTER TABLE canned_replies ENGINE=InnoDB, COMMENT='answers agents reuse';
