CREATE TABLE sla_policies (
    org_uuid      uuid     NOT NULL REFERENCES organizations (uuid) ON DELETE CASCADE,
    priority      smallint NOT NULL,
    response_mins integer  NOT NULL CHECK (response_mins > 0),
    resolve_mins  integer  NOT NULL,
    PRIMARY KEY (org_uuid, priority),
    CONSTRAINT sla_minutes CHECK (resolve_mins >= response_mins)
);
