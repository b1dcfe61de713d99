CREATE TABLE tickets (
    id         INTEGER  PRIMARY KEY AUTOINCREMENT,
    org_uuid   TEXT     NOT NULL REFERENCES organizations(uuid) ON DELETE CASCADE,
    subject    TEXT     NOT NULL,
    body       TEXT,
    status     TEXT     NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'pending', 'closed')),
    priority   INTEGER  NOT NULL DEFAULT 2,
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX tickets_org_status ON tickets (org_uuid, status);
