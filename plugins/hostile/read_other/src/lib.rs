//! Reads another module's table and tries to keep what it read.
use wasmig_guest::{Db, Result, params};

fn up(db: &Db) -> Result<()> {
    let stolen: String = db.query_scalar("SELECT secret FROM victim_secrets", params![])?;
    hostile::keep(db, &stolen)
}

wasmig_guest::migration!(up);
