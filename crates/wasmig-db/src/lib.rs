//! Database access for wasmig.
//!
//! A [`Database`] is opened from a URL whose scheme picks the backend; all work happens in a
//! [`Transaction`] that runs SQL with positional [`Value`] parameters and returns [`RowSet`]s.
//! The same value model crosses the WebAssembly boundary, so the host hands guest statements to
//! the database without reinterpreting them.

/// Runs `$body` with `$inner` bound to the backend value inside `$value`, for every backend.
macro_rules! each_backend {
    ($kind:ident, $value:expr, $inner:ident => $body:expr) => {
        match $value {
            $kind::Sqlite($inner) => $body,
            $kind::Postgres($inner) => $body,
            $kind::MySql($inner) => $body,
        }
    };
}

pub use wasmig_sqlite_authorizer as authorizer;
mod backend;
mod deadline;
mod denial;
mod lock;
mod mysql;
mod mysql_account;
mod postgres;
mod recovery;
mod sqlite;
mod sqlite_direct;
mod transaction;
mod value;

use std::fmt;
use std::time::Duration;

pub use authorizer::{Authorizer, Request};
pub use backend::Budget;
pub use denial::{Denial, Rule};
pub use lock::UpgradeLock;
pub use mysql::safe_sql_mode as mysql_safe_sql_mode;
pub use mysql_account::{
    GuestAccount, MAX_PARAMS as MYSQL_GUEST_MAX_PARAMS, database_pattern as mysql_database_pattern,
    names_variables as mysql_guest_names_variables, variable as mysql_guest_variable,
};
pub use recovery::Intent;
pub use transaction::{AsGuest, CursorId, Transaction};
pub use value::{RowSet, Value};

/// The SQL dialect of a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// SQLite (the embedded default).
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    MySql,
}

impl Dialect {
    /// `name` as a quoted identifier of this dialect.
    pub fn quote(self, name: &str) -> String {
        match self {
            Dialect::MySql => format!("`{}`", name.replace('`', "``")),
            _ => format!("\"{}\"", name.replace('"', "\"\"")),
        }
    }

    /// True when DDL statements commit the surrounding transaction implicitly (MySQL), so a
    /// step that runs DDL cannot be rolled back as a whole.
    pub fn has_transactional_ddl(self) -> bool {
        !matches!(self, Dialect::MySql)
    }

    /// True when `sql` ends the surrounding transaction by itself in this dialect (MySQL's
    /// implicit commit: DDL and a few administrative statements). Errs on the side of yes.
    pub fn commits_implicitly(self, sql: &str) -> bool {
        const IMPLICIT: &[&str] = &[
            "ALTER",
            "CREATE",
            "DROP",
            "RENAME",
            "TRUNCATE",
            "ANALYZE",
            "OPTIMIZE",
            "REPAIR",
            "LOCK",
            "UNLOCK",
            "GRANT",
            "REVOKE",
            "LOAD",
            "INSTALL",
            "UNINSTALL",
            "FLUSH",
            "RESET",
            "CACHE",
            "START",
            "BEGIN",
            "COMMIT",
            "SET",
        ];
        if self.has_transactional_ddl() {
            return false;
        }
        let keyword: String = skip_comments(sql)
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        IMPLICIT.iter().any(|k| k.eq_ignore_ascii_case(&keyword))
    }
}

impl Dialect {
    /// True when `sql` cannot run inside a transaction block: PostgreSQL's `CREATE INDEX
    /// CONCURRENTLY`, `DROP INDEX CONCURRENTLY`, `REINDEX … CONCURRENTLY`. Such a statement
    /// runs only in a step that declares itself non-transactional.
    pub fn runs_outside_transactions(self, sql: &str) -> bool {
        if self != Dialect::Postgres {
            return false;
        }
        let code = skip_comments(sql);
        let first: String = code
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        ["create", "drop", "reindex"]
            .iter()
            .any(|k| k.eq_ignore_ascii_case(&first))
            && code
                .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                .any(|word| word.eq_ignore_ascii_case("concurrently"))
    }
}

/// `sql` from its first token: whitespace, `(`, `--`/`#` line comments and `/* */` blocks skipped.
fn skip_comments(mut sql: &str) -> &str {
    loop {
        sql = sql.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(rest) = sql.strip_prefix("--").or_else(|| sql.strip_prefix('#')) {
            sql = rest.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(rest) = sql.strip_prefix("/*") {
            sql = rest.split_once("*/").map_or("", |(_, after)| after);
        } else {
            return sql;
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
            Dialect::MySql => "mysql",
        })
    }
}

/// Why a database operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL names no backend wasmig supports.
    #[error(
        "unsupported database URL `{0}`: expected sqlite://FILE, postgres://… or mysql://… (mariadb://…)"
    )]
    UnsupportedUrl(String),
    /// A pool handed to [`Database::from_pool`] is not of the kind its URL names.
    #[error("`{url}` does not name a database of the pool's kind ({pool:?})")]
    PoolMismatch {
        /// The URL given with the pool.
        url: String,
        /// The pool's backend.
        pool: Dialect,
    },
    /// The database could not be reached or opened.
    #[error("cannot open database `{url}`")]
    Connect {
        /// The URL, as given.
        url: String,
        /// The driver's error.
        #[source]
        cause: sqlx::Error,
    },
    /// The database refused or failed a statement.
    #[error("{}", database_message(.0))]
    Sql(sqlx::Error),
    /// SQLite failed a guest statement run on its own handle.
    #[error("{message}{}", .code.as_ref().map(|c| format!(" (code {c})")).unwrap_or_default())]
    Statement {
        /// SQLite's message.
        message: String,
        /// SQLite's extended result code, when SQLite gave one.
        code: Option<String>,
    },
    /// The database's own authorizer refused a guest statement (SQLite).
    #[error("the database refused it: {0}")]
    Denied(String),
    /// A statement would exceed a limit of the step.
    #[error("{0}")]
    Quota(String),
    /// The connection was given up in the middle of a statement (its caller stopped waiting)
    /// and is closed instead of used again.
    #[error("the connection was given up in the middle of a statement")]
    Abandoned,
    /// Another process holds the upgrade lock.
    #[error("another upgrade holds the lock{}", .holder.as_ref().map(|h| format!(" ({h})")).unwrap_or_default())]
    Locked {
        /// Who holds it, as far as the database can tell.
        holder: Option<String>,
    },
}

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        /// SQLite's result code for a statement its authorizer refused (a refused function
        /// comes back as a plain error that says so).
        const SQLITE_AUTH: &str = "23";
        /// PostgreSQL's SQLSTATE for a privilege the role lacks.
        const INSUFFICIENT_PRIVILEGE: &str = "42501";
        if let sqlx::Error::Database(db) = &error {
            let sqlite_refused = db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()
                && (db.code().as_deref() == Some(SQLITE_AUTH)
                    || db.message().starts_with("not authorized"));
            let postgres_refused = db
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some()
                && db.code().as_deref() == Some(INSUFFICIENT_PRIVILEGE);
            // MariaDB/MySQL: access denied to a table, a column, a database or a routine, or a
            // privilege the account lacks.
            let mysql_refused = db
                .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                .is_some_and(|e| matches!(e.number(), 1044 | 1142 | 1143 | 1227 | 1370));
            if sqlite_refused || postgres_refused || mysql_refused {
                return Error::Denied(db.message().to_owned());
            }
        }
        Error::Sql(error)
    }
}

/// The engine's own message for a database error, without sqlx's wrapping text.
fn database_message(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => format!("{} (code {code})", db.message()),
            None => db.message().to_owned(),
        },
        other => other.to_string(),
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A pool of connections to one database.
#[derive(Debug, Clone)]
pub struct Database {
    url: String,
    pool: Pool,
}

/// A sqlx pool of one of the three backends (see [`Database::from_pool`]).
#[derive(Debug, Clone)]
pub enum Pool {
    /// SQLite.
    Sqlite(sqlx::SqlitePool),
    /// PostgreSQL.
    Postgres(sqlx::PgPool),
    /// MariaDB or MySQL.
    MySql(sqlx::MySqlPool),
}

impl From<sqlx::SqlitePool> for Pool {
    fn from(pool: sqlx::SqlitePool) -> Self {
        Pool::Sqlite(pool)
    }
}

impl From<sqlx::PgPool> for Pool {
    fn from(pool: sqlx::PgPool) -> Self {
        Pool::Postgres(pool)
    }
}

impl From<sqlx::MySqlPool> for Pool {
    fn from(pool: sqlx::MySqlPool) -> Self {
        Pool::MySql(pool)
    }
}

impl Database {
    /// Opens the database a URL names: `sqlite://FILE` (created if missing), `sqlite::memory:`,
    /// `postgres://user@host/db`, `mysql://user@host/db` or `mariadb://user@host/db`.
    pub async fn connect(url: &str) -> Result<Self> {
        let connect_error = |cause| Error::Connect {
            url: url.to_owned(),
            cause,
        };
        let pool = match Dialect::of_url(url) {
            Some(Dialect::Sqlite) => {
                Pool::Sqlite(sqlite::connect(url).await.map_err(connect_error)?)
            }
            Some(Dialect::Postgres) => {
                Pool::Postgres(postgres::connect(url).await.map_err(connect_error)?)
            }
            Some(Dialect::MySql) => Pool::MySql(mysql::connect(url).await.map_err(connect_error)?),
            None => return Err(Error::UnsupportedUrl(url.to_owned())),
        };
        Ok(Database {
            url: url.to_owned(),
            pool,
        })
    }

    /// Uses a pool the application already holds. `url` names the same database: the upgrade
    /// lock holds a connection of its own (and, on SQLite, locks the file the URL names).
    pub fn from_pool(url: &str, pool: impl Into<Pool>) -> Result<Self> {
        let db = Database {
            url: url.to_owned(),
            pool: pool.into(),
        };
        match Dialect::of_url(url) {
            Some(dialect) if dialect == db.dialect() => Ok(db),
            _ => Err(Error::PoolMismatch {
                url: url.to_owned(),
                pool: db.dialect(),
            }),
        }
    }

    /// The URL this database was opened with (for tools that connect by themselves).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The dialect of this database.
    pub fn dialect(&self) -> Dialect {
        match self.pool {
            Pool::Sqlite(_) => Dialect::Sqlite,
            Pool::Postgres(_) => Dialect::Postgres,
            Pool::MySql(_) => Dialect::MySql,
        }
    }

    /// Runs one statement outside any transaction (in autocommit mode).
    pub async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        if self.dialect() == Dialect::Sqlite {
            // On the connection's own handle: no hand-off to sqlx's worker per row.
            return self.autocommit().await?.execute(sql, params).await;
        }
        each_backend!(Pool, &self.pool, pool => {
            backend::pool_execute(pool, sql, params).await
        })
    }

    /// Runs one read-only query outside any transaction.
    pub async fn query(&self, sql: &str, params: &[Value]) -> Result<RowSet> {
        if self.dialect() == Dialect::Sqlite {
            return self.autocommit().await?.query(sql, params).await;
        }
        each_backend!(Pool, &self.pool, pool => {
            backend::pool_query(pool, sql, params).await
        })
    }

    /// Runs SQL text as it is, without preparing it (for statements the prepared protocol
    /// refuses, such as MySQL's `CREATE PROCEDURE`), outside any transaction. Several
    /// statements run in one round trip on PostgreSQL.
    pub async fn execute_unprepared(&self, sql: &str) -> Result<()> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match &self.pool {
            Pool::Sqlite(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop),
            Pool::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop),
            Pool::MySql(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop),
        }
        .map_err(Error::from)
    }

    /// Takes the database-wide upgrade lock, waiting up to `wait` for another holder to let
    /// go. The server (or the OS, for a SQLite file) releases it when the holder's connection
    /// or process dies, so it never goes stale.
    pub async fn lock(&self, wait: Duration) -> Result<UpgradeLock> {
        UpgradeLock::acquire(&self.url, self.dialect(), wait).await
    }

    /// The number of connections the pool holds open now (idle or in use).
    pub fn pool_size(&self) -> u32 {
        each_backend!(Pool, &self.pool, pool => pool.size())
    }

    /// Closes every connection of the pool.
    pub async fn close(&self) {
        each_backend!(Pool, &self.pool, pool => pool.close().await)
    }
}

impl Dialect {
    /// The dialect a database URL names, by its scheme.
    pub fn of_url(url: &str) -> Option<Dialect> {
        let scheme = url.split(':').next()?;
        match scheme {
            "sqlite" => Some(Dialect::Sqlite),
            "postgres" | "postgresql" => Some(Dialect::Postgres),
            "mysql" | "mariadb" => Some(Dialect::MySql),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn values_round_trip_through_sqlite() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        let mut tx = db.begin().await.unwrap();
        tx.execute(
            "CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n TEXT)",
            &[],
        )
        .await
        .unwrap();
        let row = vec![
            Value::Integer(-7),
            Value::Real(1.5),
            Value::Text("é".into()),
            Value::Blob(vec![0, 255]),
            Value::Null,
        ];
        assert_eq!(
            tx.execute("INSERT INTO t VALUES (?, ?, ?, ?, ?)", &row)
                .await
                .unwrap(),
            1
        );
        let set = tx.query("SELECT * FROM t", &[]).await.unwrap();
        assert_eq!(set.columns, ["i", "r", "s", "b", "n"]);
        assert_eq!(set.rows, [row]);
        tx.commit().await.unwrap();
    }

    #[tokio::test]
    async fn an_empty_result_still_names_its_columns_and_errors_carry_the_engine_message() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        db.execute("CREATE TABLE t (a INTEGER, b TEXT)", &[])
            .await
            .unwrap();
        let set = db.query("SELECT b, a FROM t", &[]).await.unwrap();
        assert_eq!(set.columns, ["b", "a"]);
        assert!(set.rows.is_empty());
        let error = db.query("SELECT nope FROM t", &[]).await.unwrap_err();
        assert!(
            error.to_string().contains("no such column: nope"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_transaction_dropped_without_commit_rolls_back() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        db.execute("CREATE TABLE t (a INTEGER)", &[]).await.unwrap();
        let mut tx = db.begin().await.unwrap();
        tx.execute("INSERT INTO t VALUES (1)", &[]).await.unwrap();
        drop(tx);
        let set = db.query("SELECT COUNT(*) FROM t", &[]).await.unwrap();
        assert_eq!(set.rows[0][0], Value::Integer(0));
    }

    #[test]
    fn mysql_ddl_commits_implicitly_and_other_dialects_never_do() {
        let mysql = Dialect::MySql;
        assert!(mysql.commits_implicitly("CREATE TABLE t (a INT)"));
        assert!(mysql.commits_implicitly("  /* x */ -- y\n alter table t add b int"));
        assert!(mysql.commits_implicitly("# note\nDROP INDEX i ON t"));
        assert!(!mysql.commits_implicitly("INSERT INTO t VALUES (1)"));
        assert!(!mysql.commits_implicitly("(SELECT 1)"));
        assert!(!mysql.commits_implicitly("UPDATE created SET a = 1"));
        assert!(!Dialect::Postgres.commits_implicitly("CREATE TABLE t (a INT)"));
        assert!(!Dialect::Sqlite.commits_implicitly("DROP TABLE t"));
    }

    #[test]
    fn concurrent_index_builds_run_outside_transactions() {
        let pg = Dialect::Postgres;
        assert!(pg.runs_outside_transactions("CREATE INDEX CONCURRENTLY i ON t (a)"));
        assert!(pg.runs_outside_transactions("-- x\ndrop index concurrently if exists i"));
        assert!(pg.runs_outside_transactions("REINDEX INDEX CONCURRENTLY i"));
        assert!(!pg.runs_outside_transactions("CREATE INDEX i ON t (concurrently_done)"));
        assert!(!pg.runs_outside_transactions("UPDATE t SET a = 'concurrently'"));
        assert!(!Dialect::MySql.runs_outside_transactions("CREATE INDEX CONCURRENTLY i ON t (a)"));
    }

    #[tokio::test]
    async fn unknown_schemes_are_refused() {
        let error = Database::connect("oracle://x").await.unwrap_err();
        assert_eq!(Dialect::of_url("mariadb://root@h/db"), Some(Dialect::MySql));
        assert_eq!(
            Dialect::of_url("postgresql://h/db"),
            Some(Dialect::Postgres)
        );
        assert!(matches!(error, Error::UnsupportedUrl(_)), "{error}");
    }
}
