//! Records what a guest can read from its clocks and randomness, to show they are fixed.
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use wasmig_guest::{Db, Result, params};

fn up(db: &Db) -> Result<()> {
    let started = Instant::now();
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(-1);
    // Hash keys come from the WASI random source.
    let random = RandomState::new().hash_one("wasmig") as i64;
    let elapsed = started.elapsed().as_nanos() as i64;
    db.execute(
        "CREATE TABLE observed (wall BIGINT, random BIGINT, elapsed BIGINT)",
        params![],
    )?;
    db.execute(
        &format!(
            "INSERT INTO observed VALUES ({}, {}, {})",
            db.param(1),
            db.param(2),
            db.param(3)
        ),
        params![wall, random, elapsed],
    )?;
    Ok(())
}

wasmig_guest::migration!(up);
