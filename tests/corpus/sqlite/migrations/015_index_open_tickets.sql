-- Only open tickets are listed by date: a partial index keeps it small.
CREATE INDEX tickets_open_by_update ON tickets (updated_at DESC) WHERE status <> 'closed';
