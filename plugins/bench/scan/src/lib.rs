//! Benchmark step: reads every row of `<module>_items` and checks their count. A step named
//! `…_whole` reads them with one `query` (all at once); any other with a cursor, a page at a
//! time.
use wasmig_guest::{Db, Result, params};

fn up(db: &Db) -> Result<()> {
    let context = db.context();
    let table = format!("{}_items", context.module);
    let expected: i64 = db.query_scalar(&format!("SELECT COUNT(*) FROM {table}"), params![])?;
    let select = format!("SELECT id, name, n FROM {table}");
    let (mut read, mut sum) = (0i64, 0i64);
    if context.step.ends_with("_whole") {
        for row in db.query(&select, params![])?.iter() {
            sum += row.get::<i64>("n")?;
            read += 1;
        }
    } else {
        for row in db.query_iter(&select, params![])? {
            sum += row?.get::<i64>("n")?;
            read += 1;
        }
    }
    if read != expected {
        return Err(format!("read {read} rows of {expected}").into());
    }
    wasmig_guest::info!("read {read} rows (sum of n: {sum})");
    Ok(())
}

wasmig_guest::migration!(up);
