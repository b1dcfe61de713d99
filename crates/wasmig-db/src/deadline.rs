//! The step's time limit on the database's side: a statement still running when the step's
//! deadline passes is cancelled on the server (PostgreSQL `pg_cancel_backend`, MariaDB/MySQL
//! `KILL QUERY`, SQLite `sqlite3_interrupt`), so that it stops there and not only in the host.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use libsqlite3_sys as ffi;
use sqlx::mysql::MySqlConnectOptions;
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, ConnectOptions, Executor};

use crate::Error;

/// How long a cancelled statement may take to come back before its connection is given up
/// (closed instead of reused).
pub(crate) const GRACE: Duration = Duration::from_secs(5);

/// SQLite's handle of a connection the host holds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawSqlite(pub(crate) *mut ffi::sqlite3);

// SAFETY: the handle is used only while the `PoolConnection` that owns it is held, and only
// while no sqlx call runs on it (sqlx opens connections without SQLite's mutex, so two threads
// must never be inside it at once: a connection whose call was abandoned is not used again);
// `sqlite3_interrupt` is meant to be called from another thread at any time.
unsafe impl Send for RawSqlite {}
// SAFETY: as for `Send`: calls through the handle never overlap (see above).
unsafe impl Sync for RawSqlite {}

/// How to stop the statement running on one connection, from outside it.
#[derive(Debug, Clone)]
pub(crate) enum Canceller {
    /// Interrupts the connection's running statement.
    Sqlite(RawSqlite),
    /// `pg_cancel_backend(pid)` from a connection of its own.
    Postgres {
        options: Arc<PgConnectOptions>,
        pid: i32,
    },
    /// `KILL QUERY id` from a connection of its own.
    MySql {
        options: Arc<MySqlConnectOptions>,
        id: u64,
    },
}

impl Canceller {
    /// Asks the database to stop what the connection runs now. Failures are logged: the
    /// caller gives the connection up when the statement does not come back.
    pub(crate) async fn cancel(&self) {
        // Owned, so that no borrow lives across the awaits below.
        let outcome = match self.clone() {
            Canceller::Sqlite(raw) => {
                // SAFETY: the connection is open while its holder lives (see `RawSqlite`).
                unsafe { ffi::sqlite3_interrupt(raw.0) };
                Ok(())
            }
            Canceller::Postgres { options, pid } => {
                let sql = format!("SELECT pg_cancel_backend({pid})");
                match options.connect().await {
                    Ok(mut aside) => aside.execute(AssertSqlSafe(sql)).await.map(drop),
                    Err(e) => Err(e),
                }
            }
            Canceller::MySql { options, id } => {
                let sql = format!("KILL QUERY {id}");
                match options.connect().await {
                    Ok(mut aside) => aside.execute(AssertSqlSafe(sql)).await.map(drop),
                    Err(e) => Err(e),
                }
            }
        };
        if let Err(e) = outcome {
            tracing::warn!("cancelling a statement past the step's deadline failed: {e}");
        }
    }
}

/// The deadline of the step a connection serves, and how to stop a statement there.
#[derive(Debug, Clone)]
pub(crate) struct Watch {
    pub(crate) deadline: Instant,
    pub(crate) limit: Duration,
    pub(crate) canceller: Canceller,
}

impl Watch {
    /// True once the deadline has passed.
    pub(crate) fn passed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// The error of a statement stopped by the deadline.
    pub(crate) fn exceeded(&self) -> Error {
        Error::Quota(format!(
            "the step reached its time limit of {} s",
            self.limit.as_secs_f64()
        ))
    }
}

/// Runs `call` under `watch`: when the deadline passes first, the statement is cancelled on
/// the server and given [`GRACE`] to come back. The flag is false when it did not come back
/// (the connection is then in the middle of a statement and must not be reused).
pub(crate) async fn watched<T>(
    watch: Option<&Watch>,
    call: impl Future<Output = Result<T, Error>>,
) -> (Result<T, Error>, bool) {
    let Some(watch) = watch else {
        return (call.await, true);
    };
    if watch.passed() {
        return (Err(watch.exceeded()), true);
    }
    let mut call = std::pin::pin!(call);
    let deadline = tokio::time::Instant::from_std(watch.deadline);
    tokio::select! {
        result = &mut call => return (result, true),
        () = tokio::time::sleep_until(deadline) => {}
    }
    watch.canceller.cancel().await;
    match tokio::time::timeout(GRACE, call).await {
        Ok(_) => (Err(watch.exceeded()), true),
        Err(_) => (Err(watch.exceeded()), false),
    }
}
