//! What differs per database engine, behind one trait, and the statement paths written once
//! over it.

use sqlx::{AssertSqlSafe, Column, Executor, Row};

use crate::{RowSet, Value};

/// A sqlx database wasmig can drive: how a [`Value`] is bound and how a row is read back.
pub(crate) trait Backend: sqlx::Database {
    /// Adds `value` as the next positional parameter of `query`.
    fn bind<'q>(
        query: sqlx::query::Query<'q, Self, Self::Arguments>,
        value: &Value,
    ) -> sqlx::query::Query<'q, Self, Self::Arguments>;

    /// Reads every column of `row` into the value model.
    fn decode_row(row: &Self::Row) -> Result<Vec<Value>, sqlx::Error>;

    /// The number of rows a statement affected.
    fn rows_affected(result: &Self::QueryResult) -> u64;
}

fn bound<'q, DB: Backend>(
    sql: &str,
    params: &[Value],
) -> sqlx::query::Query<'q, DB, DB::Arguments> {
    params
        .iter()
        .fold(sqlx::query(AssertSqlSafe(sql)), DB::bind)
}

/// Runs one statement; returns the rows it affected.
pub(crate) async fn execute<DB: Backend>(
    conn: &mut DB::Connection,
    sql: &str,
    params: &[Value],
) -> Result<u64, sqlx::Error>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    let result = bound::<DB>(sql, params).execute(&mut *conn).await?;
    Ok(DB::rows_affected(&result))
}

/// Runs one query; returns its columns and every row.
pub(crate) async fn query<DB: Backend>(
    conn: &mut DB::Connection,
    sql: &str,
    params: &[Value],
) -> Result<RowSet, sqlx::Error>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    let rows = bound::<DB>(sql, params).fetch_all(&mut *conn).await?;
    let columns = match rows.first() {
        Some(row) => row.columns().iter().map(|c| c.name().to_owned()).collect(),
        None => {
            // No row to read the names from: ask the prepared statement.
            use sqlx::{SqlSafeStr, Statement};
            let statement = conn.prepare(AssertSqlSafe(sql).into_sql_str()).await?;
            statement
                .columns()
                .iter()
                .map(|c| c.name().to_owned())
                .collect()
        }
    };
    let rows = rows.iter().map(DB::decode_row).collect::<Result<_, _>>()?;
    Ok(RowSet { columns, rows })
}

/// [`execute`] on a connection of the pool.
pub(crate) async fn pool_execute<DB: Backend>(
    pool: &sqlx::Pool<DB>,
    sql: &str,
    params: &[Value],
) -> Result<u64, sqlx::Error>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    let mut conn = pool.acquire().await?;
    execute::<DB>(&mut conn, sql, params).await
}

/// [`query`] on a connection of the pool.
pub(crate) async fn pool_query<DB: Backend>(
    pool: &sqlx::Pool<DB>,
    sql: &str,
    params: &[Value],
) -> Result<RowSet, sqlx::Error>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    let mut conn = pool.acquire().await?;
    query::<DB>(&mut conn, sql, params).await
}

/// [`execute`] inside a transaction.
pub(crate) async fn tx_execute<DB: Backend>(
    tx: &mut sqlx::Transaction<'static, DB>,
    sql: &str,
    params: &[Value],
) -> Result<u64, sqlx::Error>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    execute::<DB>(tx, sql, params).await
}

/// [`query`] inside a transaction.
pub(crate) async fn tx_query<DB: Backend>(
    tx: &mut sqlx::Transaction<'static, DB>,
    sql: &str,
    params: &[Value],
) -> Result<RowSet, sqlx::Error>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    query::<DB>(tx, sql, params).await
}

/// The error for a column type the value model has no rule for.
pub(crate) fn unsupported(type_name: &str, column: &str) -> sqlx::Error {
    sqlx::Error::Decode(
        format!(
            "column `{column}` has type {type_name}, which wasmig cannot pass to a guest: \
             cast it in the query (e.g. to text)"
        )
        .into(),
    )
}
