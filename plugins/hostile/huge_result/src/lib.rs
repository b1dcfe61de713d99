//! Asks for ten million rows.
use wasmig_guest::{Db, Result, params};

fn up(db: &Db) -> Result<()> {
    let rows = db.query(hostile::TEN_MILLION_ROWS, params![])?;
    Err(format!("got all {} rows", rows.len()).into())
}

wasmig_guest::migration!(up);
