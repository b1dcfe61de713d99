//! Creates a table named after its step, then panics: the trap must be contained and the
//! table rolled back.
use wasmig_guest::{Db, Result, params};

fn up(db: &Db) -> Result<()> {
    let ctx = db.context();
    db.execute(
        &format!("CREATE TABLE {}_{} (id INTEGER)", ctx.module, ctx.step),
        params![],
    )?;
    panic!("panicking on purpose in {}", ctx.step);
}

wasmig_guest::migration!(up);
