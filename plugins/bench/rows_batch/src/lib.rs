//! Benchmark step: creates `<module>_rows` and inserts 10,000 rows with one `execute_batch`.
use wasmig_guest::{Db, Result, Value};

fn up(db: &Db) -> Result<()> {
    let insert = bench_common::create_rows_table(db)?;
    let rows: Vec<Vec<Value>> = (0..bench_common::ROWS).map(bench_common::row).collect();
    db.execute_batch(&insert, &rows)?;
    Ok(())
}

wasmig_guest::migration!(up);
