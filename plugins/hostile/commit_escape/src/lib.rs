//! Commits the host's transaction to escape the step's rollback, then does damage.
use wasmig_guest::{Db, Result, params};

fn up(db: &Db) -> Result<()> {
    db.execute("COMMIT", params![])?;
    db.execute("DROP TABLE victim_secrets", params![])?;
    Ok(())
}

wasmig_guest::migration!(up);
