//! What the bench's data steps share: their table and its insert.
use wasmig_guest::{Db, Result, Value, params};

/// Rows a data step inserts.
pub const ROWS: i64 = 10_000;

/// Creates `<module>_rows`; returns the statement that inserts one row into it.
pub fn create_rows_table(db: &Db) -> Result<String> {
    let table = format!("{}_rows", db.context().module);
    db.execute(
        &format!("CREATE TABLE {table} (id INTEGER PRIMARY KEY, name VARCHAR(100), n INTEGER)"),
        params![],
    )?;
    Ok(format!(
        "INSERT INTO {table} (id, name, n) VALUES ({}, {}, {})",
        db.param(1),
        db.param(2),
        db.param(3)
    ))
}

/// Row `i`.
pub fn row(i: i64) -> Vec<Value> {
    params![i, format!("row {i}"), i % 97].to_vec()
}
