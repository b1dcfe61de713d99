CREATE TABLE attachments (
    id        text    PRIMARY KEY,
    ticket_id integer NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    file_name text    NOT NULL,
    file_size bigint  NOT NULL,
    akey      text
);
