DROP INDEX tickets_assignee;
CREATE INDEX tickets_assignee_open ON tickets (assignee_uuid) WHERE status <> 'closed';
