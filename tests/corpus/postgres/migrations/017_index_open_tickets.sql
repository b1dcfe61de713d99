CREATE INDEX tickets_open_by_update ON tickets (updated_at DESC) WHERE status <> 'closed';
CREATE UNIQUE INDEX users_email_lower ON users (lower(email));
