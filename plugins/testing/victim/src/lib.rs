//! The module whose data hostile modules go after: a table with a secret in it.
use wasmig_guest::{Db, Result, params};

fn up(db: &Db) -> Result<()> {
    db.execute(
        "CREATE TABLE victim_secrets (secret VARCHAR(100))",
        params![],
    )?;
    db.execute(
        "INSERT INTO victim_secrets (secret) VALUES ('s3cr3t')",
        params![],
    )?;
    Ok(())
}

wasmig_guest::migration!(up);
