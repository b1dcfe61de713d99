//! Sends one statement of 18 MB (a string literal of that length), which the host must refuse
//! before parsing it or copying it further.
use wasmig_guest::{Db, Result};

fn up(db: &Db) -> Result<()> {
    // Written in place, so that the guest's own memory limit is not what stops it.
    let length = 18 << 20;
    let mut statement = "x".repeat(length);
    statement.replace_range(..8, "SELECT '");
    statement.replace_range(length - 1.., "'");
    db.execute(&statement, &[])?;
    Ok(())
}

wasmig_guest::migration!(up);
