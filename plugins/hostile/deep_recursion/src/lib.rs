//! Recurses until the stack is gone.
use wasmig_guest::{Db, Result};

#[allow(unconditional_recursion)]
fn dive(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 64]);
    dive(depth + 1) + frame[3]
}

fn up(_db: &Db) -> Result<()> {
    std::hint::black_box(dive(0));
    Ok(())
}

wasmig_guest::migration!(up);
