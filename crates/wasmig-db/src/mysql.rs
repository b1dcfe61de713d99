//! MySQL and MariaDB: values are read by the column's type.

use std::str::FromStr;

use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions, MySqlRow};
use sqlx::{Column, MySql, Row, TypeInfo, ValueRef};

use crate::Value;
use crate::backend::{Backend, unsupported};

/// `mariadb://` is accepted as a synonym of `mysql://`.
pub(crate) fn options(url: &str) -> Result<MySqlConnectOptions, sqlx::Error> {
    let url = match url.strip_prefix("mariadb:") {
        Some(rest) => format!("mysql:{rest}"),
        None => url.to_owned(),
    };
    MySqlConnectOptions::from_str(&url)
}

/// The modes that make the server read a statement otherwise than the policy does:
/// `NO_BACKSLASH_ESCAPES` (a `\'` would end a string), `ANSI_QUOTES` (a `"…"` would be a
/// name), and the combinations that set the latter again whenever the mode is set (MariaDB's
/// `ANSI`, `MSSQL`, `DB2`, `POSTGRESQL`, `MAXDB`, `ORACLE`).
const UNSAFE_SQL_MODES: [&str; 8] = [
    "NO_BACKSLASH_ESCAPES",
    "ANSI_QUOTES",
    "ANSI",
    "MSSQL",
    "DB2",
    "POSTGRESQL",
    "MAXDB",
    "ORACLE",
];

/// The statement that takes [`UNSAFE_SQL_MODES`] out of the session's `sql_mode`. Every
/// connection runs it first (and is refused if its mode still reads otherwise); a module
/// account's procedure keeps the mode it was created in.
pub fn safe_sql_mode() -> String {
    let mut mode = "CONCAT(',', @@sql_mode, ',')".to_owned();
    for unsafe_mode in UNSAFE_SQL_MODES {
        mode = format!("REPLACE({mode}, ',{unsafe_mode},', ',')");
    }
    format!("SET SESSION sql_mode = (SELECT TRIM(BOTH ',' FROM {mode}))")
}

/// Sets [`safe_sql_mode`] on a new connection and checks that it took.
async fn use_safe_sql_mode(conn: &mut sqlx::MySqlConnection) -> Result<(), sqlx::Error> {
    use sqlx::{AssertSqlSafe, Executor};
    conn.execute(AssertSqlSafe(safe_sql_mode())).await?;
    let mode: String = sqlx::query_scalar("SELECT CAST(@@sql_mode AS CHAR)")
        .fetch_one(&mut *conn)
        .await?;
    let left: Vec<&str> = mode
        .split(',')
        .filter(|m| UNSAFE_SQL_MODES[..2].contains(m))
        .collect();
    if left.is_empty() {
        return Ok(());
    }
    Err(sqlx::Error::Configuration(
        format!("the session's sql_mode keeps {}: statements would be read otherwise than the policy reads them", left.join(", ")).into(),
    ))
}

pub(crate) async fn connect(url: &str) -> Result<sqlx::MySqlPool, sqlx::Error> {
    MySqlPoolOptions::new()
        .max_connections(4)
        .after_connect(|conn, _| Box::pin(use_safe_sql_mode(conn)))
        .connect_with(options(url)?)
        .await
}

impl Backend for MySql {
    fn bind<'q>(
        query: sqlx::query::Query<'q, Self, Self::Arguments>,
        value: &Value,
    ) -> sqlx::query::Query<'q, Self, Self::Arguments> {
        match value {
            Value::Null => query.bind(None::<String>),
            Value::Integer(v) => query.bind(*v),
            Value::Real(v) => query.bind(*v),
            Value::Text(v) => query.bind(v.clone()),
            Value::Blob(v) => query.bind(v.clone()),
        }
    }

    fn decode_row(row: &MySqlRow) -> Result<Vec<Value>, sqlx::Error> {
        (0..row.len()).map(|i| decode(row, i)).collect()
    }

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }
}

fn decode(row: &MySqlRow, i: usize) -> Result<Value, sqlx::Error> {
    if row.try_get_raw(i)?.is_null() {
        return Ok(Value::Null);
    }
    let text = |s: String| Ok(Value::Text(s));
    match row.column(i).type_info().name() {
        "BOOLEAN" | "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" => {
            Ok(Value::Integer(row.try_get_unchecked(i)?))
        }
        "TINYINT UNSIGNED" | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED" | "INT UNSIGNED"
        | "BIGINT UNSIGNED" | "YEAR" => {
            let wide: u64 = row.try_get_unchecked(i)?;
            // Beyond i64, an unsigned value keeps its exact digits as text.
            Ok(i64::try_from(wide).map_or_else(|_| Value::Text(wide.to_string()), Value::Integer))
        }
        "FLOAT" => Ok(Value::Real(row.try_get_unchecked::<f32, _>(i)?.into())),
        "DOUBLE" => Ok(Value::Real(row.try_get_unchecked(i)?)),
        // DECIMAL travels as its exact digits.
        "DECIMAL" | "SET" | "JSON" => text(row.try_get_unchecked(i)?),
        // Text or bytes by the column's collation (`_bin` collations are still text, e.g.
        // MariaDB's JSON); sqlx's own rule for `String` decides.
        "CHAR" | "VARCHAR" | "TINYTEXT" | "TEXT" | "MEDIUMTEXT" | "LONGTEXT" | "ENUM"
        | "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" => {
            if <String as sqlx::Type<MySql>>::compatible(row.column(i).type_info()) {
                text(row.try_get_unchecked(i)?)
            } else {
                Ok(Value::Blob(row.try_get_unchecked(i)?))
            }
        }
        "BIT" | "GEOMETRY" => Ok(Value::Blob(row.try_get_unchecked(i)?)),
        "DATE" => text(
            row.try_get::<sqlx::types::chrono::NaiveDate, _>(i)?
                .to_string(),
        ),
        "TIME" => text(
            row.try_get::<sqlx::types::chrono::NaiveTime, _>(i)?
                .to_string(),
        ),
        "DATETIME" => text(
            row.try_get::<sqlx::types::chrono::NaiveDateTime, _>(i)?
                .to_string(),
        ),
        "TIMESTAMP" => text(
            row.try_get::<sqlx::types::chrono::DateTime<sqlx::types::chrono::Utc>, _>(i)?
                .naive_utc()
                .to_string(),
        ),
        "NULL" => Ok(Value::Null),
        other => Err(unsupported(other, row.column(i).name())),
    }
}
