-- Accounts. Keys are text UUIDs made by the application.
CREATE TABLE users (
    uuid          TEXT     NOT NULL PRIMARY KEY,
    email         TEXT     NOT NULL UNIQUE,
    name          TEXT     NOT NULL,
    password_hash BLOB     NOT NULL,
    salt          BLOB     NOT NULL,
    security_stamp TEXT    NOT NULL,
    created_at    DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at    DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
