CREATE TABLE csat_responses (
    ticket_id  integer     PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,
    score      smallint    NOT NULL CHECK (score BETWEEN 1 AND 5),
    remark     text,
    created_at timestamptz NOT NULL DEFAULT now()
);
