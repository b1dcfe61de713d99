//! Benchmark step: one of a long chain, each recording its name in `<module>_steps`.
use wasmig_guest::{Db, Result, params};

fn up(db: &Db) -> Result<()> {
    let context = db.context();
    let table = format!("{}_steps", context.module);
    db.create_table_if_missing(&table, "step VARCHAR(100)")?;
    db.execute(
        &format!("INSERT INTO {table} (step) VALUES ({})", db.param(1)),
        params![context.step.clone()],
    )?;
    Ok(())
}

wasmig_guest::migration!(up);
