//! Never returns.
use wasmig_guest::{Db, Result};

fn up(_db: &Db) -> Result<()> {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

wasmig_guest::migration!(up);
