//! Sends a statement nested 20,000 parentheses deep (40 KB, under the tests' 64 KiB statement
//! limit). Parsing and checking it recurses once per level, on the stack the host serves the
//! guest's calls on: the host must refuse it, not overflow that stack (which would end the
//! whole process, every other module's step with it).
use wasmig_guest::{Db, Result};

fn up(db: &Db) -> Result<()> {
    let depth = 20_000;
    let statement = format!("SELECT {}1{}", "(".repeat(depth), ")".repeat(depth));
    db.execute(&statement, &[])?;
    Ok(())
}

wasmig_guest::migration!(up);
