CREATE TABLE csat_responses (
    ticket_id  INTEGER PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,
    score      INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    remark     TEXT,
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
