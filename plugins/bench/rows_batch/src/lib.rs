//! Benchmark step: creates `<module>_rows` and inserts 10,000 rows with one `execute_batch`.
use wasmig_guest::{Db, Result, Value, params};

fn up(db: &Db) -> Result<()> {
    let table = format!("{}_rows", db.context().module);
    db.execute(
        &format!("CREATE TABLE {table} (id INTEGER PRIMARY KEY, name VARCHAR(100), n INTEGER)"),
        params![],
    )?;
    let insert = format!(
        "INSERT INTO {table} (id, name, n) VALUES ({}, {}, {})",
        db.param(1),
        db.param(2),
        db.param(3)
    );
    let rows: Vec<Vec<Value>> = (0..10_000i64)
        .map(|i| params![i, format!("row {i}"), i % 97].to_vec())
        .collect();
    db.execute_batch(&insert, &rows)?;
    Ok(())
}

wasmig_guest::migration!(up);
