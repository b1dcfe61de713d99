CREATE FUNCTION audit_ticket_status() RETURNS trigger
LANGUAGE plpgsql AS $body$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        INSERT INTO audit_log (org_uuid, actor_uuid, event_type, payload)
        VALUES (NEW.org_uuid, NEW.assignee_uuid, 1100,
                jsonb_build_object('ticket', NEW.id, 'from', OLD.status, 'to', NEW.status));
    END IF;
    RETURN NEW;
END;
$body$;

CREATE TRIGGER tickets_audit_status AFTER UPDATE OF status ON tickets
    FOR EACH ROW EXECUTE FUNCTION audit_ticket_status();
