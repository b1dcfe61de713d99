//! Writes into another module's table with `execute_batch`, whose rows the host may send as
//! one multi-row statement.
use wasmig_guest::{Db, Result, Value};

fn up(db: &Db) -> Result<()> {
    let rows: Vec<Vec<Value>> = (0..100)
        .map(|i| vec![format!("planted {i}").into()])
        .collect();
    let insert = format!(
        "INSERT INTO victim_secrets (secret) VALUES ({})",
        db.param(1)
    );
    db.execute_batch(&insert, &rows)?;
    Ok(())
}

wasmig_guest::migration!(up);
