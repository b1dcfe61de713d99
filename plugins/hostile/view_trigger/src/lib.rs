//! Creates a view it owns over a table it was not granted, to read through it.
use wasmig_guest::{Db, Result, params};

fn up(db: &Db) -> Result<()> {
    db.execute(
        "CREATE VIEW evil_view AS SELECT secret FROM victim_secrets",
        params![],
    )?;
    let stolen: String = db.query_scalar("SELECT secret FROM evil_view", params![])?;
    hostile::keep(db, &stolen)
}

wasmig_guest::migration!(up);
