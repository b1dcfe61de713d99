DROP TRIGGER IF EXISTS tickets_touch_legacy;
DROP TRIGGER tickets_touch_updated_at;
CREATE TRIGGER tickets_touch_updated_at
AFTER UPDATE OF subject, body, status, priority, assignee_uuid, due_at ON tickets
FOR EACH ROW
WHEN NEW.updated_at = OLD.updated_at
BEGIN
    UPDATE tickets SET updated_at = CURRENT_TIMESTAMP WHERE id = NEW.id;
END