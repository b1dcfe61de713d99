//! Waits an hour in WASI (`monotonic-clock` and `poll`), where neither fuel nor the epoch
//! counts: only the step's time limit stops it.
use wasmig_guest::{Db, Result};

fn up(db: &Db) -> Result<()> {
    std::thread::sleep(std::time::Duration::from_secs(3600));
    db.execute("CREATE TABLE evil_after_sleep (id INTEGER)", &[])?;
    Ok(())
}

wasmig_guest::migration!(up);
