ALTER TABLE tickets
    ADD COLUMN due_at timestamptz,
    ADD COLUMN first_response_at timestamptz;
