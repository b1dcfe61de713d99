//! Inserts 2,500 rows with one `execute_batch` (NULLs, quotes, reals and blobs among them) and
//! checks what the host says it inserted: the host may send them in chunks of many rows.
use wasmig_guest::{Db, Dialect, Error, Result, Value, params};

/// The rows, the same as the test expects.
fn rows() -> Vec<Vec<Value>> {
    (0..2500i64)
        .map(|i| {
            let label: Value = if i % 7 == 0 {
                Value::Null
            } else {
                format!("it's #{i}").into()
            };
            let data: Value = if i % 3 == 0 {
                Value::Blob(i.to_le_bytes().to_vec())
            } else {
                Value::Null
            };
            vec![i.into(), label, Value::Real(i as f64 / 8.0), data]
        })
        .collect()
}

fn up(db: &Db) -> Result<()> {
    let (real, blob) = match db.dialect() {
        Dialect::Sqlite => ("REAL", "BLOB"),
        Dialect::Postgres => ("DOUBLE PRECISION", "BYTEA"),
        Dialect::Mysql => ("DOUBLE", "BLOB"),
    };
    db.execute(
        &format!(
            "CREATE TABLE batch_items (id INTEGER PRIMARY KEY, label VARCHAR(50), \
             ratio {real}, data {blob})"
        ),
        params![],
    )?;
    let insert = format!(
        "INSERT INTO batch_items (id, label, ratio, data) VALUES ({}, {}, {}, {})",
        db.param(1),
        db.param(2),
        db.param(3),
        db.param(4)
    );
    let inserted = db.execute_batch(&insert, &rows())?;
    let counted: i64 = db.query_scalar("SELECT COUNT(*) FROM batch_items", params![])?;
    if inserted != 2500 || counted != 2500 {
        return Err(Error::msg(format!(
            "execute_batch said {inserted} rows, the table holds {counted}"
        )));
    }
    Ok(())
}

wasmig_guest::migration!(up);
