CREATE TABLE organizations (
    uuid          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name          text NOT NULL,
    billing_email text NOT NULL
);

CREATE TABLE users_organizations (
    uuid       uuid    PRIMARY KEY DEFAULT gen_random_uuid(),
    user_uuid  uuid    NOT NULL REFERENCES users (uuid) ON DELETE CASCADE,
    org_uuid   uuid    NOT NULL REFERENCES organizations (uuid) ON DELETE CASCADE,
    access_all boolean NOT NULL,
    akey       text    NOT NULL,
    status     integer NOT NULL,
    atype      integer NOT NULL CHECK (atype BETWEEN 0 AND 3),
    UNIQUE (user_uuid, org_uuid)
);
