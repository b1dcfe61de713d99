//! Module identities the database enforces.
//!
//! Each module's guest statements run as an identity of the module's own — a PostgreSQL role
//! (`wasmig_m_<module>`, `NOLOGIN`) or a MariaDB/MySQL account (locked, no password) — that
//! owns the module's objects and holds the grants of its manifest, so that the server's own
//! privilege checks back up the SQL policy. This crate creates those identities and grants
//! them their privileges; [`wasmig_db::Transaction`] runs statements as them.

mod mysql;
mod postgres;

use wasmig_db::{Database, Dialect, Result, Transaction};

/// What a module's identity is given.
#[derive(Debug, Clone, Copy)]
pub struct Grants<'a> {
    /// The module's own tables and views (handed over to the identity).
    pub owned: &'a [String],
    /// Tables of others the module may read.
    pub read: &'a [String],
    /// Tables of others the module may read and write.
    pub write: &'a [String],
}

/// Whether wasmig's account may give modules identities of their own: on PostgreSQL a
/// superuser or `CREATEROLE`; on MariaDB/MySQL `CREATE USER`, `SET USER` (or `SUPER`) and
/// `GRANT OPTION`. False on SQLite, whose authorizer needs no identity.
pub async fn may_confine(db: &Database) -> Result<bool> {
    match db.dialect() {
        Dialect::Postgres => postgres::may_create_roles(db).await,
        Dialect::MySql => mysql::may_create_accounts(db).await,
        Dialect::Sqlite => Ok(false),
    }
}

/// Creates (or brings up to date) the identity `name` with `grants`, and makes `tx` run guest
/// statements as it. Returns false, changing nothing, when wasmig's account may not create
/// identities (see [`may_confine`]) or on SQLite.
pub async fn confine(
    tx: &mut Transaction,
    db: &Database,
    name: &str,
    grants: Grants<'_>,
) -> Result<bool> {
    match tx.dialect() {
        Dialect::Postgres => {
            let confined = postgres::confine(tx, db, name, grants).await?;
            tx.use_guest_role(confined.then_some(name)).await?;
            Ok(confined)
        }
        Dialect::MySql => {
            let account = mysql::confine(db, name, grants).await?;
            let confined = account.is_some();
            tx.use_guest_account(account);
            Ok(confined)
        }
        Dialect::Sqlite => Ok(false),
    }
}

/// MariaDB/MySQL: lets the module's account use `table`, which a guest statement is about to
/// create or rename something to (`owned`: every privilege), or which its foreign key names
/// before it exists (only `REFERENCES`). A no-op when `tx` runs no guest account.
pub async fn grant_new(
    tx: &mut Transaction,
    db: &Database,
    table: &str,
    owned: bool,
) -> Result<()> {
    match tx.guest_account() {
        Some(account) => mysql::grant_new(db, account, table, owned).await,
        None => Ok(()),
    }
}
