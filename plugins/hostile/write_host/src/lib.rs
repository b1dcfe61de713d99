//! Rewrites the host's ledger to fake a version.
use wasmig_guest::{Db, Result, params};

fn up(db: &Db) -> Result<()> {
    db.execute("UPDATE wasmig_modules SET version = '9.9.9'", params![])?;
    Ok(())
}

wasmig_guest::migration!(up);
