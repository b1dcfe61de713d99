//! Benchmark step: creates `<module>_rows` and inserts 10,000 rows, one `execute` each.
use wasmig_guest::{Db, Result};

fn up(db: &Db) -> Result<()> {
    let insert = bench_common::create_rows_table(db)?;
    for i in 0..bench_common::ROWS {
        db.execute(&insert, &bench_common::row(i))?;
    }
    Ok(())
}

wasmig_guest::migration!(up);
