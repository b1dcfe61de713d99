//! How each backend's column types reach a guest: the documented value mapping.

use wasmig_db::Value;
use wasmig_tests::{Backend, Sandbox, on_every_backend};

on_every_backend!(
    a_batch_of_many_rows_arrives_whole,
    a_cursor_reads_what_a_query_reads
);

/// 2,500 rows through one `execute_batch` (PostgreSQL and MariaDB get them as multi-row
/// statements, in chunks): the table holds exactly the rows the guest sent.
async fn a_batch_of_many_rows_arrives_whole(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    sandbox
        .module("batch", "1.0.0")
        .step("001_rows", "testing/batch_rows")
        .write();
    let report = sandbox.upgrade().await;
    assert!(report.is_success(), "{report:?}");
    let db = sandbox.database().await;
    let stored = db
        .query(
            "SELECT id, label, ratio, data FROM batch_items ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    db.close().await;
    let expected: Vec<Vec<Value>> = (0..2500i64)
        .map(|i| {
            vec![
                Value::Integer(i),
                if i % 7 == 0 {
                    Value::Null
                } else {
                    text(&format!("it's #{i}"))
                },
                Value::Real(i as f64 / 8.0),
                if i % 3 == 0 {
                    Value::Blob(i.to_le_bytes().to_vec())
                } else {
                    Value::Null
                },
            ]
        })
        .collect();
    assert_eq!(stored.rows.len(), expected.len());
    for (got, want) in stored.rows.iter().zip(&expected) {
        assert_eq!(got, want);
    }
}

/// A component reads 2,345 rows through a cursor, compares each with what `query` returned
/// for the same statement, and writes each into a copy while the cursor is open (the guest
/// fails on any difference); the copy then holds exactly the table's rows.
async fn a_cursor_reads_what_a_query_reads(backend: Backend) {
    let sandbox = Sandbox::new(backend).await;
    sandbox
        .module("scan", "1.0.0")
        .step("001_scan", "testing/cursor_scan")
        .write();
    let report = sandbox.upgrade().await;
    assert!(report.is_success(), "{report:?}");
    let db = sandbox.database().await;
    let mut tables = Vec::new();
    for table in ["scan_items", "scan_copy"] {
        let sql = format!("SELECT id, name, score, note FROM {table} ORDER BY id");
        tables.push(db.query(&sql, &[]).await.unwrap().rows);
    }
    db.close().await;
    assert_eq!(tables[0].len(), 2_345);
    assert_eq!(tables[0], tables[1]);
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

#[tokio::test]
async fn postgres_types_map_to_the_five_values() {
    let sandbox = Sandbox::new(Backend::Postgres).await;
    let db = sandbox.database().await;
    db.execute(
        "CREATE TABLE t (b BOOL, i2 INT2, i4 INT4, i8 INT8, f4 FLOAT4, f8 FLOAT8, n NUMERIC(12,3), \
         s TEXT, v VARCHAR(9), c CHAR(3), y BYTEA, d DATE, tm TIME, ts TIMESTAMP, tz TIMESTAMPTZ, \
         j JSON, jb JSONB, u UUID, e INT4)",
        &[],
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO t VALUES (true, 2, 4, 8, 1.5, 2.25, 123456789.125, 'é', 'v', 'ab', '\\x00ff', \
         '2026-11-23', '13:14:15', '2026-11-23 13:14:15.5', '2026-11-23 13:14:15+02', \
         '{\"a\": 1}', '{\"b\": [2]}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', $1)",
        &[Value::Null],
    )
    .await
    .expect("an untyped NULL parameter fits an integer column");
    let set = db.query("SELECT * FROM t", &[]).await.unwrap();
    assert_eq!(
        set.rows[0],
        [
            Value::Integer(1),
            Value::Integer(2),
            Value::Integer(4),
            Value::Integer(8),
            Value::Real(1.5),
            Value::Real(2.25),
            text("123456789.125"),
            text("é"),
            text("v"),
            text("ab "),
            Value::Blob(vec![0, 255]),
            text("2026-11-23"),
            text("13:14:15"),
            text("2026-11-23 13:14:15.500"),
            text("2026-11-23T11:14:15Z"),
            text("{\"a\":1}"),
            text("{\"b\":[2]}"),
            text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
            Value::Null,
        ]
    );
    let numerics = db
        .query(
            "SELECT -0.0005::numeric(10,4), 0::numeric, 'NaN'::numeric, 10000::numeric(10,2), \
             -12345678.9::numeric, 1e-9::numeric",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        numerics.rows[0],
        [
            "-0.0005",
            "0",
            "NaN",
            "10000.00",
            "-12345678.9",
            "0.000000001"
        ]
        .map(text)
    );
    let error = db.query("SELECT '1 day'::interval", &[]).await.unwrap_err();
    assert!(error.to_string().contains("has type INTERVAL"), "{error}");
}

#[tokio::test]
async fn mysql_types_map_to_the_five_values() {
    let sandbox = Sandbox::new(Backend::MySql).await;
    let db = sandbox.database().await;
    db.execute(
        "CREATE TABLE t (b BOOLEAN, tu TINYINT UNSIGNED, i INT, bu BIGINT UNSIGNED, f FLOAT, \
         d8 DOUBLE, n DECIMAL(12,3), v VARCHAR(9), s TEXT, y BLOB, d DATE, tm TIME, dt DATETIME(3), \
         ts TIMESTAMP NULL, j JSON, e INT)",
        &[],
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO t VALUES (true, 255, -4, 18446744073709551615, 1.5, 2.25, 123456789.125, 'v', \
         'é', X'00FF', '2026-11-23', '13:14:15', '2026-11-23 13:14:15.500', \
         '2026-11-23 13:14:15', '{\"a\": 1}', ?)",
        &[Value::Null],
    )
    .await
    .unwrap();
    let set = db.query("SELECT * FROM t", &[]).await.unwrap();
    let row = &set.rows[0];
    assert_eq!(
        row[..8],
        [
            Value::Integer(1),
            Value::Integer(255),
            Value::Integer(-4),
            text("18446744073709551615"),
            Value::Real(1.5),
            Value::Real(2.25),
            text("123456789.125"),
            text("v"),
        ]
    );
    assert_eq!(row[8], text("é"));
    assert_eq!(row[9], Value::Blob(vec![0, 255]));
    assert_eq!(row[10], text("2026-11-23"));
    assert_eq!(row[11], text("13:14:15"));
    assert_eq!(row[12], text("2026-11-23 13:14:15.500"));
    assert!(
        matches!(&row[13], Value::Text(t) if t.starts_with("2026-11-23")),
        "{:?}",
        row[13]
    );
    assert!(
        matches!(&row[14], Value::Text(t) if t.contains("\"a\"")),
        "{:?}",
        row[14]
    );
    assert_eq!(row[15], Value::Null);
}
