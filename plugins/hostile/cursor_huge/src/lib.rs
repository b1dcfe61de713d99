//! Reads ten million rows through a cursor, a page at a time: memory stays small, but the
//! rows still count against the step's limit.
use wasmig_guest::{Db, Result, params};

fn up(db: &Db) -> Result<()> {
    let rows = db.query_iter(hostile::TEN_MILLION_ROWS, params![])?;
    let mut read = 0u64;
    for row in rows {
        row?;
        read += 1;
    }
    Err(format!("read all {read} rows").into())
}

wasmig_guest::migration!(up);
