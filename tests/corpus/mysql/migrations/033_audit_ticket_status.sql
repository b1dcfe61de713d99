DELIMITER $$
CREATE TRIGGER tickets_audit_status AFTER UPDATE ON tickets
FOR EACH ROW
BEGIN
  IF NOT (NEW.status <=> OLD.status) THEN
    INSERT INTO audit_log (org_uuid, actor_uuid, event_type, payload)
    VALUES (NEW.org_uuid, NEW.assignee_uuid, 1100,
            JSON_OBJECT('ticket', NEW.id, 'from', OLD.status, 'to', NEW.status));
  END IF;
END$$
DELIMITER ;
