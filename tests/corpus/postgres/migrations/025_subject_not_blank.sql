-- Checked for new rows at once; existing rows are validated without a long lock.
ALTER TABLE tickets ADD CONSTRAINT tickets_subject_not_blank CHECK (btrim(subject) <> '') NOT VALID;
ALTER TABLE tickets VALIDATE CONSTRAINT tickets_subject_not_blank;
