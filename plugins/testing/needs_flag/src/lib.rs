//! Creates its table, then fails unless the table `flag` has a row; once it has, fills the
//! table. The statements before the check are the same on every run, so a resume can replay.
use wasmig_guest::{Db, Error, Result, params};

fn up(db: &Db) -> Result<()> {
    let ctx = db.context();
    let table = format!("{}_{}", ctx.module, ctx.step);
    db.execute(&format!("CREATE TABLE {table} (id INTEGER)"), params![])?;
    let flags: i64 = db.query_scalar("SELECT COUNT(*) FROM flag", params![])?;
    if flags == 0 {
        return Err(Error::msg("the flag is not set"));
    }
    db.execute(&format!("INSERT INTO {table} (id) VALUES (1)"), params![])?;
    Ok(())
}

wasmig_guest::migration!(up);
