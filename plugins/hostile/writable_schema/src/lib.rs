//! Switches the database's own safety off: PRAGMA writable_schema on SQLite, a session or
//! global setting elsewhere.
use wasmig_guest::{Db, Dialect, Result, params};

fn up(db: &Db) -> Result<()> {
    let sql = match db.dialect() {
        Dialect::Sqlite => "PRAGMA writable_schema = ON",
        Dialect::Postgres => "SET session_replication_role = replica",
        Dialect::Mysql => "SET GLOBAL read_only = 1",
    };
    db.execute(sql, params![])?;
    db.execute("DELETE FROM victim_secrets", params![])?;
    Ok(())
}

wasmig_guest::migration!(up);
