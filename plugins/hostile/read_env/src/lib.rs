//! Looks for credentials in the environment.
use wasmig_guest::{Db, Error, Result};

fn up(db: &Db) -> Result<()> {
    let found: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
    match std::env::var("DATABASE_URL") {
        Ok(url) => hostile::keep(db, &url),
        Err(e) => Err(Error::msg(format!(
            "DATABASE_URL: {e}; {} variables visible",
            found.len()
        ))),
    }
}

wasmig_guest::migration!(up);
