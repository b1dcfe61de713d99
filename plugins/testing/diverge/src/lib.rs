//! Sends a different statement depending on the table `flag`: a replay after the flag changed
//! diverges from the journal.
use wasmig_guest::{Db, Error, Result, params};

fn up(db: &Db) -> Result<()> {
    let ctx = db.context();
    let flags: i64 = db.query_scalar("SELECT COUNT(*) FROM flag", params![])?;
    let suffix = if flags == 0 { "a" } else { "b" };
    db.execute(
        &format!(
            "CREATE TABLE {}_{}_{suffix} (id INTEGER)",
            ctx.module, ctx.step
        ),
        params![],
    )?;
    if flags == 0 {
        return Err(Error::msg("the flag is not set"));
    }
    Ok(())
}

wasmig_guest::migration!(up);
