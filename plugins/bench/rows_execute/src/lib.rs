//! Benchmark step: creates `<module>_rows` and inserts 10,000 rows, one `execute` each.
use wasmig_guest::{Db, Result, params};

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
    for i in 0..10_000i64 {
        db.execute(&insert, params![i, format!("row {i}"), i % 97])?;
    }
    Ok(())
}

wasmig_guest::migration!(up);
