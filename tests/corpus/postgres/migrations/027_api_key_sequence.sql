CREATE SEQUENCE api_key_serial START WITH 1000 INCREMENT BY 1;
CREATE TABLE api_keys (
    uuid          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    serial        bigint      NOT NULL DEFAULT nextval('api_key_serial'),
    org_uuid      uuid        NOT NULL REFERENCES organizations (uuid) ON DELETE CASCADE,
    api_key       text        NOT NULL UNIQUE,
    revision_date timestamptz NOT NULL
);
ALTER SEQUENCE api_key_serial OWNED BY api_keys.serial;
