-- Make name optional and drop the salt column, which an old SQLite could not drop while a
-- view referenced the table: rebuild, keeping every index and trigger.
PRAGMA foreign_keys=OFF;
CREATE TABLE "users_new" (
    uuid            TEXT     NOT NULL PRIMARY KEY,
    email           TEXT     NOT NULL UNIQUE,
    name            TEXT,
    password_hash   BLOB     NOT NULL,
    created_at      DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at      DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    client_kdf_type INTEGER  NOT NULL DEFAULT 0,
    client_kdf_iter INTEGER  NOT NULL DEFAULT 600000
);
INSERT INTO "users_new" (uuid, email, name, password_hash, created_at, updated_at, client_kdf_type, client_kdf_iter)
    SELECT uuid, email, name, password_hash, created_at, updated_at, client_kdf_type, client_kdf_iter FROM users;
DROP TABLE users;
ALTER TABLE "users_new" RENAME TO users;
CREATE UNIQUE INDEX users_email_lower ON users (lower(email));
PRAGMA foreign_keys=ON;
