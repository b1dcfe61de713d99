CREATE TRIGGER tickets_audit_status
AFTER UPDATE OF status ON tickets
FOR EACH ROW WHEN NEW.status IS NOT OLD.status
BEGIN
    INSERT INTO audit_log (org_uuid, actor_uuid, event_type, payload)
    VALUES (NEW.org_uuid, NEW.assignee_uuid, 1100,
            json_object('ticket', NEW.id, 'from', OLD.status, 'to', NEW.status));
END;
