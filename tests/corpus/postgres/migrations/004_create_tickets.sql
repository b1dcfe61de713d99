CREATE TABLE tickets (
    id         serial        PRIMARY KEY,
    org_uuid   uuid          NOT NULL REFERENCES organizations (uuid) ON DELETE CASCADE,
    subject    varchar(200)  NOT NULL,
    body       text,
    status     ticket_status NOT NULL DEFAULT 'open',
    priority   smallint      NOT NULL DEFAULT 2,
    created_at timestamptz   NOT NULL DEFAULT now(),
    updated_at timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX tickets_org_status ON tickets (org_uuid, status);
