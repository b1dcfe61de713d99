CREATE TABLE comments (
	uuid        TEXT NOT NULL PRIMARY KEY,
	ticket_id   INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
	author_uuid TEXT REFERENCES users (uuid),
	body        TEXT NOT NULL,
	internal    BOOLEAN NOT NULL DEFAULT 0,
	created_at  DATETIME NOT NULL
);
CREATE INDEX comments_ticket ON comments (ticket_id);