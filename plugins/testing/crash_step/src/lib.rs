//! A step for crash tests: creates its table if missing (safe to replay), then writes one row
//! to it and fifty to the shared `<module>_log`, so that a kill lands mid-step often.
use wasmig_guest::{Db, Result, params};

fn up(db: &Db) -> Result<()> {
    let ctx = db.context();
    let log = format!("{}_log", ctx.module);
    db.execute(
        &format!("CREATE TABLE IF NOT EXISTS {log} (step VARCHAR(100), n INTEGER)"),
        params![],
    )?;
    let table = format!("{}_{}", ctx.module, ctx.step);
    db.execute(
        &format!("CREATE TABLE IF NOT EXISTS {table} (id INTEGER)"),
        params![],
    )?;
    db.execute(&format!("INSERT INTO {table} (id) VALUES (1)"), params![])?;
    let insert = format!(
        "INSERT INTO {log} (step, n) VALUES ({}, {})",
        db.param(1),
        db.param(2)
    );
    for n in 0..50 {
        db.execute(&insert, params![ctx.step.as_str(), n])?;
    }
    Ok(())
}

wasmig_guest::migration!(up);
