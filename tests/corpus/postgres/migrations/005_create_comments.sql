CREATE TABLE comments (
    uuid        uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    ticket_id   integer     NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    author_uuid uuid        REFERENCES users (uuid),
    body        text        NOT NULL,
    internal    boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX comments_ticket ON comments (ticket_id);