CREATE TABLE attachments (
    id        TEXT    NOT NULL PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    file_name TEXT    NOT NULL,
    file_size INTEGER NOT NULL,
    akey      TEXT
)
