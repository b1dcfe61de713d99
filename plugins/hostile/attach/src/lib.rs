//! Reaches for a file outside the database: ATTACH on SQLite, COPY … TO PROGRAM on
//! PostgreSQL, SELECT … INTO OUTFILE on MySQL.
use wasmig_guest::{Db, Dialect, Result, params};

fn up(db: &Db) -> Result<()> {
    let sql = match db.dialect() {
        Dialect::Sqlite => "ATTACH DATABASE '/tmp/wasmig-evil.db' AS evil",
        Dialect::Postgres => "COPY (SELECT 1) TO PROGRAM 'touch /tmp/wasmig-evil'",
        Dialect::Mysql => "SELECT 1 INTO OUTFILE '/tmp/wasmig-evil'",
    };
    db.execute(sql, params![])?;
    Ok(())
}

wasmig_guest::migration!(up);
