//! SQLite: dynamically typed, so values are read by their storage class.

use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions, SqliteRow};
use sqlx::{Row, Sqlite, TypeInfo, ValueRef};

use crate::Value;
use crate::backend::Backend;

pub(crate) async fn connect(url: &str) -> Result<sqlx::SqlitePool, sqlx::Error> {
    let options = SqliteConnectOptions::from_str(url)?.create_if_missing(true);
    // An in-memory database lives and dies with its connection: keep exactly one. A file gets
    // one too: SQLite writes one transaction at a time anyway, and a second connection would
    // parse the whole schema again after every step that changed it.
    let in_memory = is_in_memory(url);
    SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(if in_memory { 1 } else { 0 })
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(options)
        .await
}

pub(crate) fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

impl Backend for Sqlite {
    fn bind<'q>(
        query: sqlx::query::Query<'q, Self, Self::Arguments>,
        value: &Value,
    ) -> sqlx::query::Query<'q, Self, Self::Arguments> {
        match value {
            Value::Null => query.bind(None::<i64>),
            Value::Integer(v) => query.bind(*v),
            Value::Real(v) => query.bind(*v),
            Value::Text(v) => query.bind(v.clone()),
            Value::Blob(v) => query.bind(v.clone()),
        }
    }

    fn decode_row(row: &SqliteRow) -> Result<Vec<Value>, sqlx::Error> {
        (0..row.len())
            .map(|i| {
                let raw = row.try_get_raw(i)?;
                if raw.is_null() {
                    return Ok(Value::Null);
                }
                // Read by the value's storage class, whatever the column was declared as.
                Ok(match raw.type_info().name() {
                    "INTEGER" | "BOOLEAN" => Value::Integer(row.try_get_unchecked(i)?),
                    "REAL" => Value::Real(row.try_get_unchecked(i)?),
                    "BLOB" => Value::Blob(row.try_get_unchecked(i)?),
                    _ => Value::Text(row.try_get_unchecked(i)?),
                })
            })
            .collect()
    }

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }
}
