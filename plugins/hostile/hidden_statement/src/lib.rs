//! Hides a second statement behind an innocent one and a comment.
use wasmig_guest::{Db, Result, params};

fn up(db: &Db) -> Result<()> {
    db.execute(
        "SELECT 1 /* nothing to see */ ; DELETE FROM victim_secrets -- ",
        params![],
    )?;
    Ok(())
}

wasmig_guest::migration!(up);
