//! Creates a table named after the module and step it runs as, with one row.
use wasmig_guest::{Db, Result, params};

fn up(db: &Db) -> Result<()> {
    let ctx = db.context();
    let table = format!("{}_{}", ctx.module, ctx.step);
    db.execute(
        &format!("CREATE TABLE {table} (id INTEGER, note VARCHAR(100))"),
        params![],
    )?;
    db.execute(
        &format!("INSERT INTO {table} (id, note) VALUES (1, {})", db.param(1)),
        params![format!(
            "{} -> {}",
            ctx.from_version.as_deref().unwrap_or("-"),
            ctx.to_version
        )],
    )?;
    Ok(())
}

wasmig_guest::migration!(up);
