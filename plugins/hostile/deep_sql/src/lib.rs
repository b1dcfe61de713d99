//! Sends `SELECT 1 + 1 + … + 1` of 30,000 terms (60 KB, under the tests' 64 KiB statement
//! limit). sqlparser reads such a chain in a loop but builds a tree as deep as it, which the
//! policy then walks and drops recursively: 100,000 terms overflowed a 2 MiB stack (the whole
//! process ends then), and the default statement limit (4 MiB) lets two million through. The
//! policy refuses the chain before it is parsed.
use wasmig_guest::{Db, Result};

fn up(db: &Db) -> Result<()> {
    let statement = format!("SELECT 1{}", "+1".repeat(30_000));
    db.execute(&statement, &[])?;
    Ok(())
}

wasmig_guest::migration!(up);
