//! Names its table after the version it upgrades to, then fails unless the table `flag` has a
//! row: resumed under another header version, its replay sends another statement.
use wasmig_guest::{Db, Error, Result, params};

fn up(db: &Db) -> Result<()> {
    let ctx = db.context();
    let version = ctx.to_version.replace('.', "_");
    db.execute(
        &format!(
            "CREATE TABLE {}_{}_{version} (id INTEGER)",
            ctx.module, ctx.step
        ),
        params![],
    )?;
    let flags: i64 = db.query_scalar("SELECT COUNT(*) FROM flag", params![])?;
    if flags == 0 {
        return Err(Error::msg("the flag is not set"));
    }
    Ok(())
}

wasmig_guest::migration!(up);
