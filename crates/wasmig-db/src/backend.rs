//! What differs per database engine, behind one trait, and the statement paths written once
//! over it.

use sqlx::{AssertSqlSafe, Column, Executor, Row};

use crate::{RowSet, Value};

/// A sqlx database wasmig can drive: how a [`Value`] is bound and how a row is read back.
pub(crate) trait Backend: sqlx::Database + sqlx::database::HasStatementCache {
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

/// How a statement runs: whether it is prepared afresh instead of taken from the statement
/// cache (SQLite's authorizer sees statements only as they are prepared), and the budget its
/// results count against.
#[derive(Debug, Default)]
pub(crate) struct Mode<'b> {
    pub fresh: bool,
    pub budget: Option<&'b mut Budget>,
}

fn bound<'q, DB: Backend>(
    sql: &str,
    params: &[Value],
    fresh: bool,
) -> sqlx::query::Query<'q, DB, DB::Arguments>
where
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    params
        .iter()
        .fold(sqlx::query(AssertSqlSafe(sql)), DB::bind)
        .persistent(!fresh)
}

/// Runs one statement; returns the rows it affected.
pub(crate) async fn execute<DB: Backend>(
    conn: &mut DB::Connection,
    sql: &str,
    params: &[Value],
    mode: Mode<'_>,
) -> Result<u64, crate::Error>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    let result = bound::<DB>(sql, params, mode.fresh)
        .execute(&mut *conn)
        .await?;
    Ok(DB::rows_affected(&result))
}

/// Runs one query; returns its columns and every row.
pub(crate) async fn query<DB: Backend>(
    conn: &mut DB::Connection,
    sql: &str,
    params: &[Value],
    mut mode: Mode<'_>,
) -> Result<RowSet, crate::Error>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    use futures_util::TryStreamExt;
    let mut rows = Vec::new();
    let mut decoded = Vec::new();
    {
        // Streamed, so a budget stops a huge result before it is in memory.
        let mut stream = bound::<DB>(sql, params, mode.fresh).fetch(&mut *conn);
        while let Some(row) = stream.try_next().await? {
            let values = DB::decode_row(&row)?;
            if let Some(budget) = mode.budget.as_deref_mut() {
                budget.spend(&values)?;
            }
            decoded.push(values);
            if rows.is_empty() {
                rows.push(row);
            }
        }
    }
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
    Ok(RowSet {
        columns,
        rows: decoded,
    })
}

/// What a step's queries may still return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Rows left.
    pub rows: u64,
    /// Bytes left (text and blob lengths, 8 per number).
    pub bytes: u64,
}

impl Budget {
    pub(crate) fn spend(&mut self, row: &[Value]) -> Result<(), crate::Error> {
        let bytes: u64 = row
            .iter()
            .map(|v| match v {
                Value::Null => 1,
                Value::Integer(_) | Value::Real(_) => 8,
                Value::Text(t) => t.len() as u64,
                Value::Blob(b) => b.len() as u64,
            })
            .sum();
        if self.rows == 0 {
            return Err(crate::Error::Quota(
                "the step's queries returned more rows than its limit allows".into(),
            ));
        }
        if bytes > self.bytes {
            return Err(crate::Error::Quota(
                "the step's queries returned more bytes than its limit allows".into(),
            ));
        }
        self.rows -= 1;
        self.bytes -= bytes;
        Ok(())
    }
}

/// [`execute`] on a connection of the pool.
pub(crate) async fn pool_execute<DB: Backend>(
    pool: &sqlx::Pool<DB>,
    sql: &str,
    params: &[Value],
) -> Result<u64, crate::Error>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    let mut conn = pool.acquire().await?;
    execute::<DB>(&mut conn, sql, params, Mode::default()).await
}

/// [`query`] on a connection of the pool.
pub(crate) async fn pool_query<DB: Backend>(
    pool: &sqlx::Pool<DB>,
    sql: &str,
    params: &[Value],
) -> Result<RowSet, crate::Error>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    let mut conn = pool.acquire().await?;
    query::<DB>(&mut conn, sql, params, Mode::default()).await
}

/// [`execute`] on a connection held from the pool.
pub(crate) async fn held_execute<DB: Backend>(
    conn: &mut sqlx::pool::PoolConnection<DB>,
    sql: &str,
    params: &[Value],
    mode: Mode<'_>,
) -> Result<u64, crate::Error>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    execute::<DB>(conn, sql, params, mode).await
}

/// [`query`] on a connection held from the pool.
pub(crate) async fn held_query<DB: Backend>(
    conn: &mut sqlx::pool::PoolConnection<DB>,
    sql: &str,
    params: &[Value],
    mode: Mode<'_>,
) -> Result<RowSet, crate::Error>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    query::<DB>(conn, sql, params, mode).await
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
