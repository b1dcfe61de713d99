//! Reads a file of the host.
use wasmig_guest::{Db, Error, Result};

fn up(db: &Db) -> Result<()> {
    match std::fs::read_to_string("/etc/passwd") {
        Ok(stolen) => hostile::keep(db, &stolen),
        Err(e) => Err(Error::msg(format!("could not open /etc/passwd: {e}"))),
    }
}

wasmig_guest::migration!(up);
