CREATE TABLE webhooks (
    uuid     uuid    PRIMARY KEY DEFAULT gen_random_uuid(),
    org_uuid uuid    NOT NULL REFERENCES organizations (uuid) ON DELETE CASCADE,
    url      text    NOT NULL,
    secret   text    NOT NULL,
    events   text[]  NOT NULL DEFAULT '{}',
    active   boolean NOT NULL DEFAULT true,
    UNIQUE (org_uuid, url)
);