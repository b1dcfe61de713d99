CREATE TABLE tags (
    id   integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text    NOT NULL UNIQUE
);
CREATE TABLE ticket_tags (
    ticket_id integer NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    tag_id    integer NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (ticket_id, tag_id)
);
