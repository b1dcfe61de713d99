//! Creates a table named after its step, then fails: the table must be rolled back.
use wasmig_guest::{Db, Error, Result, params};

fn up(db: &Db) -> Result<()> {
    let ctx = db.context();
    db.execute(
        &format!("CREATE TABLE {}_{} (id INTEGER)", ctx.module, ctx.step),
        params![],
    )?;
    Err(Error::msg("refusing on purpose"))
}

wasmig_guest::migration!(up);
