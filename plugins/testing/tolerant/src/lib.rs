//! Sends a statement that must fail (a duplicate key) through `execute_tolerant`, then goes on:
//! on PostgreSQL the later insert only works if the host kept the failure from spoiling the
//! step's transaction.
use wasmig_guest::{Db, Error, Result, params};

fn up(db: &Db) -> Result<()> {
    let table = format!("{}_marks", db.context().module);
    db.execute(
        &format!("CREATE TABLE {table} (id INTEGER PRIMARY KEY)"),
        params![],
    )?;
    db.execute(&format!("INSERT INTO {table} (id) VALUES (1)"), params![])?;
    let duplicate = format!("INSERT INTO {table} (id) VALUES (1)");
    if db.execute_tolerant(&duplicate, params![]).is_some() {
        return Err(Error::msg("a duplicate key was accepted"));
    }
    db.execute(&format!("INSERT INTO {table} (id) VALUES (2)"), params![])?;
    Ok(())
}

wasmig_guest::migration!(up);
