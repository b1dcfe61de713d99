//! Reads ten million rows through a cursor, a page at a time: memory stays small, but the
//! rows still count against the step's limit.
use wasmig_guest::{Db, Result, params};

fn up(db: &Db) -> Result<()> {
    // Ten digits crossed seven times: 10^7 rows, in every dialect.
    let rows = db.query_iter(
        "WITH d(x) AS (SELECT 0 UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 \
         UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 \
         UNION ALL SELECT 8 UNION ALL SELECT 9) \
         SELECT 1 FROM d a, d b, d c, d e, d f, d g, d h",
        params![],
    )?;
    let mut read = 0u64;
    for row in rows {
        row?;
        read += 1;
    }
    Err(format!("read all {read} rows").into())
}

wasmig_guest::migration!(up);
