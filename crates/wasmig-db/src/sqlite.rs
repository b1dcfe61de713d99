//! The SQLite backend.

use std::str::FromStr;

use sqlx::sqlite::{SqliteArguments, SqliteConnectOptions, SqlitePoolOptions, SqliteRow};
use sqlx::{AssertSqlSafe, Column, Row, SqliteConnection, TypeInfo, ValueRef};

use crate::{RowSet, Value};

pub(crate) async fn connect(url: &str) -> Result<sqlx::SqlitePool, sqlx::Error> {
    let options = SqliteConnectOptions::from_str(url)?.create_if_missing(true);
    // An in-memory database lives and dies with its connection: keep exactly one.
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    SqlitePoolOptions::new()
        .max_connections(if in_memory { 1 } else { 4 })
        .min_connections(if in_memory { 1 } else { 0 })
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(options)
        .await
}

fn bind<'q>(sql: &str, params: &[Value]) -> sqlx::query::Query<'q, sqlx::Sqlite, SqliteArguments> {
    params.iter().fold(
        sqlx::query(AssertSqlSafe(sql)),
        |query, value| match value {
            Value::Null => query.bind(None::<i64>),
            Value::Integer(v) => query.bind(*v),
            Value::Real(v) => query.bind(*v),
            Value::Text(v) => query.bind(v.clone()),
            Value::Blob(v) => query.bind(v.clone()),
        },
    )
}

pub(crate) async fn execute(
    conn: &mut SqliteConnection,
    sql: &str,
    params: &[Value],
) -> Result<u64, sqlx::Error> {
    Ok(bind(sql, params).execute(conn).await?.rows_affected())
}

pub(crate) async fn query(
    conn: &mut SqliteConnection,
    sql: &str,
    params: &[Value],
) -> Result<RowSet, sqlx::Error> {
    let rows = bind(sql, params).fetch_all(&mut *conn).await?;
    let columns = match rows.first() {
        Some(row) => row.columns().iter().map(|c| c.name().to_owned()).collect(),
        None => describe_columns(conn, sql).await?,
    };
    let rows = rows.iter().map(decode_row).collect::<Result<_, _>>()?;
    Ok(RowSet { columns, rows })
}

/// Column names of a statement that returned no rows.
async fn describe_columns(
    conn: &mut SqliteConnection,
    sql: &str,
) -> Result<Vec<String>, sqlx::Error> {
    use sqlx::{Executor, SqlSafeStr, Statement};
    let statement = conn.prepare(AssertSqlSafe(sql).into_sql_str()).await?;
    Ok(statement
        .columns()
        .iter()
        .map(|c| c.name().to_owned())
        .collect())
}

fn decode_row(row: &SqliteRow) -> Result<Vec<Value>, sqlx::Error> {
    (0..row.len())
        .map(|i| {
            let raw = row.try_get_raw(i)?;
            if raw.is_null() {
                return Ok(Value::Null);
            }
            // SQLite is dynamically typed: decode by the value's storage class.
            Ok(match raw.type_info().name() {
                "INTEGER" | "BOOLEAN" => Value::Integer(row.try_get_unchecked(i)?),
                "REAL" => Value::Real(row.try_get_unchecked(i)?),
                "BLOB" => Value::Blob(row.try_get_unchecked(i)?),
                _ => Value::Text(row.try_get_unchecked(i)?),
            })
        })
        .collect()
}
