CREATE TABLE saved_replies (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    org_uuid  TEXT    NOT NULL REFERENCES organizations (uuid) ON DELETE CASCADE,
    title     TEXT    NOT NULL,
    body      TEXT    NOT NULL,
    UNIQUE (org_uuid, title COLLATE NOCASE)
);
INSERT INTO saved_replies (org_uuid, title, body)
SELECT uuid, 'Thanks', 'Thank you for contacting us.' FROM organizations;
