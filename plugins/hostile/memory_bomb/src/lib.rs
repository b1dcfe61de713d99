//! Allocates until something gives.
use wasmig_guest::{Db, Result};

fn up(_db: &Db) -> Result<()> {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(std::hint::black_box(vec![7u8; 1 << 20]));
    }
}

wasmig_guest::migration!(up);
