CREATE TABLE users (
    uuid           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    email          text        NOT NULL UNIQUE,
    name           text        NOT NULL,
    password_hash  bytea       NOT NULL,
    salt           bytea       NOT NULL,
    security_stamp text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
