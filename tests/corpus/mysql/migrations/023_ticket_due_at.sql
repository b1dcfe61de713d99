ALTER TABLE tickets
  ADD COLUMN due_at DATETIME NULL,
  ADD COLUMN first_response_at DATETIME NULL AFTER due_at;
