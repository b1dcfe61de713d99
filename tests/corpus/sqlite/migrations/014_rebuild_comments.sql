-- SQLite cannot change a column's constraints in place: rebuild the table the documented
-- way (https://www.sqlite.org/lang_altertable.html#otheralter), making author_uuid
-- cascade and body length-checked.
PRAGMA foreign_keys = OFF;

CREATE TABLE comments_new (
	uuid        TEXT NOT NULL PRIMARY KEY,
	ticket_id   INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
	author_uuid TEXT REFERENCES users (uuid) ON DELETE SET NULL,
	body        TEXT NOT NULL CHECK (length(body) <= 65536),
	internal    BOOLEAN NOT NULL DEFAULT 0,
	created_at  DATETIME NOT NULL
);

INSERT INTO comments_new (uuid, ticket_id, author_uuid, body, internal, created_at)
SELECT uuid, ticket_id, author_uuid, body, internal, created_at FROM comments;

DROP TABLE comments;

ALTER TABLE comments_new RENAME TO comments;

CREATE INDEX comments_ticket ON comments (ticket_id);

PRAGMA foreign_keys = ON;
