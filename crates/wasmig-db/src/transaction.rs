//! A step's connection: one connection of the pool, held for the whole step, with the step's
//! transaction open on it — or none, for a step that runs statement by statement.
//!
//! The connection is the host's until it goes back to the pool: whatever a step changed on it
//! (a transaction left open, a session setting, PostgreSQL's role) is put back first, and a
//! connection that cannot be put back is closed instead of returned.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use libsqlite3_sys as ffi;
use sqlx::pool::PoolConnection;
use sqlx::{AssertSqlSafe, Executor, MySql, Postgres, Sqlite};

mod cursor;

pub use cursor::CursorId;

use crate::backend::{self, Budget};
use crate::deadline::{self, Canceller, RawSqlite, Watch};
use crate::{
    Database, Dialect, Error, Pool, Result, RowSet, Value, authorizer, mysql_account, postgres,
};

/// A connection of the pool held for one step, with a transaction open on it (see
/// [`Database::begin`]) or in autocommit mode (see [`Database::autocommit`]). Dropped without
/// [`commit`](Transaction::commit), its transaction rolls back.
#[derive(Debug)]
pub struct Transaction {
    // Declared first, so that it is removed before the connection goes back to the pool.
    authorizer: Option<authorizer::Installed>,
    /// SQLite: the guest's statements kept prepared (finalized before the connection goes).
    statements: crate::sqlite_direct::StatementCache,
    /// SQLite: the host's own statements (the ledger's), kept apart from the guest's: a
    /// statement the authorizer let through as the host's is never handed to a guest.
    host_statements: crate::sqlite_direct::StatementCache,
    /// The guest's open cursors (SQLite's statements finalized before the connection goes).
    cursors: cursor::Cursors,
    /// True while a guest statement runs (see [`Transaction::as_guest`]).
    guest: Arc<AtomicBool>,
    /// The PostgreSQL role guest statements run as (see [`Transaction::use_guest_role`]).
    guest_role: Option<String>,
    /// Whether that role is in effect now.
    role_active: bool,
    /// Open savepoints, with whether the guest role was in effect when each was taken.
    savepoints: Vec<(String, bool)>,
    /// True while a transaction is open on the connection.
    open: bool,
    /// Guest statements run since the transaction began.
    guest_statements: u64,
    /// True once a statement that may write ran since the transaction began.
    written: bool,
    /// What runs once the open transaction commits (see [`Transaction::after_commit`]).
    after_commit: AfterCommit,
    /// What the step changed on the connection's session, to put back before release.
    changed: Changed,
    /// SQLite's own handle of the connection.
    sqlite: Option<RawSqlite>,
    /// True in a plan's transaction, which is rolled back (see [`Transaction::previewing`]).
    previewing: bool,
    /// PostgreSQL, once guest code may run under the module's role: the session as it was, to
    /// pin the host's search path and to tell whether the guest changed the session.
    pg_session: Option<postgres::Session>,
    /// True when the session holds something a guest left (a setting, a temporary object):
    /// the connection is closed instead of returned to the pool.
    poisoned: bool,
    /// Foreign-key violations counted when the step switched SQLite's checks off.
    violations_before: Option<std::collections::BTreeMap<(String, String), u64>>,
    /// The step's deadline (see [`Transaction::set_deadline`]).
    watch: Option<Watch>,
    /// True from the start of a statement until its result is in: still true when the
    /// caller gave up waiting (the statement may still run on the server).
    in_call: bool,
    /// True once the connection was given up in the middle of a statement: it is closed
    /// instead of used again.
    broken: bool,
    /// The pool the connection came from (its options open a connection to cancel with).
    pool: Pool,
    /// MariaDB/MySQL: the module's account guest statements run as (see
    /// [`Transaction::use_guest_account`]).
    mysql_guest: Option<mysql_account::GuestAccount>,
    conn: Conn,
}

/// Calls waiting for the open transaction to commit.
#[derive(Default)]
struct AfterCommit(Vec<Box<dyn FnOnce() + Send + Sync>>);

impl std::fmt::Debug for AfterCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AfterCommit({} calls)", self.0.len())
    }
}

/// Session state a step changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Changed {
    /// SQLite's `foreign_keys` as it was before the step switched it.
    foreign_keys: Option<bool>,
    /// Settings a guest may change (MySQL `foreign_key_checks`, PostgreSQL `lock_timeout`).
    settings: bool,
    /// PostgreSQL's role set for the session (outside a transaction `SET LOCAL` is no use).
    session_role: bool,
    /// The step lock (see [`Transaction::hold_step_lock`]).
    step_lock: bool,
    /// MariaDB's `max_statement_time`, set for the step's deadline.
    statement_time: bool,
    /// MariaDB/MySQL: once a guest statement ran through a module account's procedure, how
    /// many of its parameter variables (`@wasmig_p1…`) hold a guest's values; they and the
    /// statement's text (`@wasmig_statement`) are emptied before the connection serves anyone
    /// else.
    guest_variables: Option<usize>,
}

#[derive(Debug)]
enum Conn {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
    MySql(PoolConnection<MySql>),
}

impl RawSqlite {
    /// Runs `sql` (no parameters, no rows wanted), ignoring errors: for clean-up in `drop`.
    fn exec_quietly(self, sql: &str) {
        // A `drop` has no one to report a failure to.
        let _ = crate::sqlite_direct::exec(self, sql);
    }
}

impl Database {
    /// Starts a transaction on a connection of the pool. On SQLite it takes the write lock at
    /// once (`BEGIN IMMEDIATE`), so a step never fails half-way on a lock upgrade.
    pub async fn begin(&self) -> Result<Transaction> {
        let mut tx = self.hold_connection().await?;
        tx.begin_transaction().await?;
        Ok(tx)
    }

    /// Holds a connection of the pool in autocommit mode: every statement commits by itself
    /// (a step that cannot run in a transaction, such as PostgreSQL's `CREATE INDEX
    /// CONCURRENTLY`). [`Transaction::begin_transaction`] opens one later.
    pub async fn autocommit(&self) -> Result<Transaction> {
        self.hold_connection().await
    }

    async fn hold_connection(&self) -> Result<Transaction> {
        let mut sqlite = None;
        let conn = match &self.pool {
            Pool::Sqlite(pool) => {
                let mut conn = pool.acquire().await?;
                sqlite = Some(RawSqlite(
                    conn.lock_handle().await?.as_raw_handle().as_ptr(),
                ));
                Conn::Sqlite(conn)
            }
            Pool::Postgres(pool) => Conn::Postgres(pool.acquire().await?),
            Pool::MySql(pool) => Conn::MySql(pool.acquire().await?),
        };
        Ok(Transaction {
            authorizer: None,
            statements: Default::default(),
            cursors: Default::default(),
            host_statements: Default::default(),
            guest: Arc::default(),
            guest_role: None,
            role_active: false,
            savepoints: Vec::new(),
            open: false,
            guest_statements: 0,
            written: false,
            after_commit: AfterCommit::default(),
            changed: Changed::default(),
            sqlite,
            previewing: false,
            pg_session: None,
            poisoned: false,
            violations_before: None,
            watch: None,
            in_call: false,
            broken: false,
            pool: self.pool.clone(),
            mysql_guest: None,
            conn,
        })
    }
}

/// A [`Transaction`] whose statements are a guest's while the guard lives (see
/// [`Transaction::as_guest`]).
#[derive(Debug)]
pub struct AsGuest<'t> {
    transaction: &'t mut Transaction,
}

impl std::ops::Deref for AsGuest<'_> {
    type Target = Transaction;

    fn deref(&self) -> &Transaction {
        self.transaction
    }
}

impl std::ops::DerefMut for AsGuest<'_> {
    fn deref_mut(&mut self) -> &mut Transaction {
        self.transaction
    }
}

impl Drop for AsGuest<'_> {
    fn drop(&mut self) {
        self.transaction.guest.store(false, Ordering::Release);
    }
}

impl Transaction {
    /// The dialect of the database this transaction runs on.
    pub fn dialect(&self) -> Dialect {
        match self.conn {
            Conn::Sqlite(_) => Dialect::Sqlite,
            Conn::Postgres(_) => Dialect::Postgres,
            Conn::MySql(_) => Dialect::MySql,
        }
    }

    /// True while a transaction is open (false in autocommit mode).
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Opens a transaction on the held connection (`BEGIN IMMEDIATE` on SQLite).
    pub async fn begin_transaction(&mut self) -> Result<()> {
        let begin = match self.dialect() {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres | Dialect::MySql => "BEGIN",
        };
        match &self.pg_session {
            Some(session) => {
                let pin = session.pin_search_path();
                self.raw(&format!("{begin}; {pin}")).await?;
            }
            None => self.raw(begin).await?,
        }
        self.open = true;
        self.guest_statements = 0;
        self.written = false;
        Ok(())
    }

    /// Marks the transaction as a plan's, which is rolled back at the end: a step's `PRAGMA
    /// foreign_keys = OFF` defers the checks instead of restarting the transaction.
    pub fn previewing(&mut self) {
        self.previewing = true;
    }

    /// Commits the open transaction and opens the next one on the same connection, so that
    /// what ran so far is durable and what follows is atomic again.
    pub async fn commit_and_continue(&mut self) -> Result<()> {
        if self.open {
            self.end_transaction("COMMIT").await?;
        }
        self.begin_transaction().await
    }

    /// Commits the open transaction, so that the next statement runs outside any (autocommit).
    pub async fn commit_and_pause(&mut self) -> Result<()> {
        if self.open {
            self.end_transaction("COMMIT").await?;
        }
        Ok(())
    }

    /// Runs one statement with positional parameters; returns the number of rows affected.
    ///
    /// On SQLite the statement runs on the connection's handle right away; a server's round
    /// trip is a boxed future of its own, so that the future of a SQLite statement stays a
    /// few hundred bytes (moved once per call level, a large one cost more than the row).
    pub async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        self.written = true;
        if let Some(raw) = self.sqlite {
            let watch = self.start_call(sql, params).await?.1;
            let deadline = watch.map(|w| w.deadline);
            let result = self.direct_statements().execute(raw, sql, params, deadline);
            return self.finish_call(result, true);
        }
        Box::pin(self.execute_on_server(sql, params)).await
    }

    /// [`Transaction::execute`] on PostgreSQL or MariaDB/MySQL.
    async fn execute_on_server(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let (guest_call, watch) = self.start_call(sql, params).await?;
        let (sql, params) = Self::as_sent(&guest_call, sql, params);
        let mode = self.mode(None);
        let call = async {
            each_backend!(Conn, &mut self.conn, conn => backend::held_execute(conn, sql, params, mode).await)
        };
        let (result, finished) = deadline::watched(watch.as_ref(), call).await;
        self.finish_call(result, finished)
    }

    /// Runs one query with positional parameters and returns all of its rows.
    pub async fn query(&mut self, sql: &str, params: &[Value]) -> Result<RowSet> {
        self.query_budgeted(sql, params, None).await
    }

    /// Like [`Transaction::query`], but stops with [`Error::Quota`] as soon as the rows
    /// returned exceed `budget`, which is charged for what they return.
    pub async fn query_within(
        &mut self,
        sql: &str,
        params: &[Value],
        budget: &mut Budget,
    ) -> Result<RowSet> {
        self.query_budgeted(sql, params, Some(budget)).await
    }

    async fn query_budgeted(
        &mut self,
        sql: &str,
        params: &[Value],
        budget: Option<&mut Budget>,
    ) -> Result<RowSet> {
        if let Some(raw) = self.sqlite {
            let watch = self.start_call(sql, params).await?.1;
            let deadline = watch.map(|w| w.deadline);
            let result = self
                .direct_statements()
                .query(raw, sql, params, deadline, budget);
            return self.finish_call(result, true);
        }
        Box::pin(self.query_on_server(sql, params, budget)).await
    }

    /// [`Transaction::query_within`] on PostgreSQL or MariaDB/MySQL.
    async fn query_on_server(
        &mut self,
        sql: &str,
        params: &[Value],
        budget: Option<&mut Budget>,
    ) -> Result<RowSet> {
        let (guest_call, watch) = self.start_call(sql, params).await?;
        let (sent, sent_params) = Self::as_sent(&guest_call, sql, params);
        let mode = self.mode(budget);
        let call = async {
            each_backend!(Conn, &mut self.conn, conn => backend::held_query(conn, sent, sent_params, mode).await)
        };
        let (result, finished) = deadline::watched(watch.as_ref(), call).await;
        let mut set = self.finish_call(result, finished)?;
        if guest_call.is_some() && set.rows.is_empty() {
            set.columns = self.column_names(sql).await?;
        }
        Ok(set)
    }

    /// MariaDB/MySQL: the column names of the query `sql`, read from the server's description
    /// of it (prepared by the host, not run). A module account's procedure returns no names
    /// along with no rows; the statement just ran as the guest's, so the names are its to see.
    async fn column_names(&mut self, sql: &str) -> Result<Vec<String>> {
        use sqlx::{Column, SqlSafeStr, Statement};
        let Conn::MySql(conn) = &mut self.conn else {
            return Ok(Vec::new());
        };
        let statement = (&mut **conn)
            .prepare(AssertSqlSafe(sql.to_owned()).into_sql_str())
            .await?;
        Ok(statement
            .columns()
            .iter()
            .map(|c| c.name().to_owned())
            .collect())
    }

    /// SQLite, where every statement runs on the connection's handle directly (see
    /// `sqlite_direct`): the prepared statements of whoever sends this one, guest or host.
    fn direct_statements(&mut self) -> &mut crate::sqlite_direct::StatementCache {
        if self.guest.load(Ordering::Acquire) {
            &mut self.statements
        } else {
            &mut self.host_statements
        }
    }

    /// Readies the connection for a statement: the call that runs a guest's as the module's
    /// account (MariaDB/MySQL), the guest's role (PostgreSQL), the statement marked in flight,
    /// and the deadline that watches it.
    async fn start_call(
        &mut self,
        sql: &str,
        params: &[Value],
    ) -> Result<(Option<mysql_account::Call>, Option<Watch>)> {
        let guest_call = self.guest_call(sql, params).await?;
        self.switch_role().await?;
        self.begin_call().await?;
        Ok((guest_call, self.watch.clone()))
    }

    /// The text and parameters sent for a statement: the account's call when there is one.
    fn as_sent<'a>(
        guest_call: &'a Option<mysql_account::Call>,
        sql: &'a str,
        params: &'a [Value],
    ) -> (&'a str, &'a [Value]) {
        match guest_call {
            Some(call) => (call.sql.as_str(), call.params.as_slice()),
            None => (sql, params),
        }
    }

    /// Ends a statement started with [`Transaction::start_call`].
    fn finish_call<T>(&mut self, result: Result<T>, finished: bool) -> Result<T> {
        self.in_call = !finished;
        self.explain(result)
    }

    /// MariaDB/MySQL, for a guest statement once the module has its account: the call that
    /// runs it as that account (its parameters set first, as the host).
    async fn guest_call(
        &mut self,
        sql: &str,
        params: &[Value],
    ) -> Result<Option<mysql_account::Call>> {
        if self.mysql_guest.is_none() || !self.guest.load(Ordering::Acquire) {
            return Ok(None);
        }
        Box::pin(self.account_call(sql, params)).await
    }

    /// [`Transaction::guest_call`] once it is known to be one: the variables set, the call.
    async fn account_call(
        &mut self,
        sql: &str,
        params: &[Value],
    ) -> Result<Option<mysql_account::Call>> {
        let Some(guest) = self.mysql_guest.as_ref() else {
            return Ok(None);
        };
        let mut calls = mysql_account::calls(guest, sql, params)?;
        let set = self.changed.guest_variables.unwrap_or_default();
        self.changed.guest_variables = Some(set.max(params.len()));
        let call = calls.pop();
        for set in calls {
            let host = self.guest.swap(false, Ordering::AcqRel);
            let result = match &mut self.conn {
                Conn::MySql(conn) => {
                    backend::held_execute(conn, &set.sql, &set.params, backend::Mode::default())
                        .await
                }
                _ => Ok(0),
            };
            self.guest.store(host, Ordering::Release);
            result?;
        }
        Ok(call)
    }

    /// MariaDB/MySQL: the module's account guest statements run as, once
    /// [`Transaction::use_guest_account`] named one.
    pub fn guest_account(&self) -> Option<&mysql_account::GuestAccount> {
        self.mysql_guest.as_ref()
    }

    /// Bounds the statements that follow by the step's `deadline` (`limit` after its start):
    /// the server gets the time left as its own statement timeout (PostgreSQL
    /// `statement_timeout`, MariaDB `max_statement_time`), and a statement still running at
    /// the deadline is cancelled on the server and fails with [`Error::Quota`].
    pub async fn set_deadline(&mut self, deadline: Instant, limit: Duration) -> Result<()> {
        let left = deadline.saturating_duration_since(Instant::now());
        let canceller = match (&self.conn, self.pool.clone()) {
            (Conn::Sqlite(_), _) => match self.sqlite {
                Some(raw) => Canceller::Sqlite(raw),
                None => return Ok(()),
            },
            (Conn::Postgres(_), Pool::Postgres(pool)) => {
                let rows = self.host_query("SELECT pg_backend_pid()").await?;
                let pid = rows.rows.first().and_then(|r| r[0].as_integer());
                self.raw(&format!(
                    "SET statement_timeout = {}",
                    left.as_millis().max(1)
                ))
                .await?;
                self.changed.settings = true;
                Canceller::Postgres {
                    options: pool.connect_options(),
                    pid: pid.and_then(|p| i32::try_from(p).ok()).unwrap_or_default(),
                }
            }
            (Conn::MySql(_), Pool::MySql(pool)) => {
                let rows = self.host_query("SELECT CONNECTION_ID()").await?;
                let id = rows.rows.first().and_then(|r| r[0].as_integer());
                // MariaDB's; MySQL has no such variable (its own applies to SELECT only).
                let seconds = left.as_secs_f64().max(0.001);
                let set = format!("SET SESSION max_statement_time = {seconds:.3}");
                self.changed.statement_time = self.raw(&set).await.is_ok();
                Canceller::MySql {
                    options: pool.connect_options(),
                    id: id.and_then(|i| u64::try_from(i).ok()).unwrap_or_default(),
                }
            }
            _ => return Ok(()),
        };
        self.watch = Some(Watch {
            deadline,
            limit,
            canceller,
        });
        Ok(())
    }

    /// Starts a statement: a statement the caller stopped waiting for is cancelled first and
    /// its connection given up; on SQLite, once sqlx's worker has finished it (guest
    /// statements run on the raw handle and must never overlap the worker), the connection
    /// goes on.
    async fn begin_call(&mut self) -> Result<()> {
        if self.in_call {
            Box::pin(self.abandon_call()).await;
        }
        if self.broken {
            return Err(match &self.watch {
                Some(watch) => watch.exceeded(),
                None => Error::Abandoned,
            });
        }
        self.in_call = true;
        Ok(())
    }

    /// The statement before was left running (its caller stopped waiting): cancelled, and
    /// the connection marked broken unless it is idle again within the grace time.
    async fn abandon_call(&mut self) {
        if let Some(watch) = &self.watch {
            watch.canceller.cancel().await;
        }
        self.broken |= match &mut self.conn {
            // The worker takes the lock only after what it was given before.
            Conn::Sqlite(conn) => {
                let idle = tokio::time::timeout(deadline::GRACE, conn.lock_handle()).await;
                !matches!(idle, Ok(Ok(_)))
            }
            _ => true,
        };
        self.in_call = false;
    }

    /// Runs a guest's statement that changes a setting of the session the step may change
    /// (the policy said which). SQLite's `PRAGMA foreign_keys` is a no-op inside a
    /// transaction, so the step's still empty transaction is restarted around it; after the
    /// step's first statement it is refused. Everything changed is put back when the
    /// connection is released.
    pub async fn change_setting(&mut self, sql: &str) -> Result<u64> {
        match self.dialect() {
            Dialect::Sqlite => match sqlite_foreign_keys(sql) {
                Some(enabled) => {
                    self.switch_foreign_keys(enabled).await?;
                    Ok(0)
                }
                // Reading the pragma changes nothing.
                None => self.execute(sql, &[]).await,
            },
            Dialect::Postgres | Dialect::MySql => {
                self.changed.settings = true;
                self.execute(sql, &[]).await
            }
        }
    }

    async fn switch_foreign_keys(&mut self, enabled: bool) -> Result<()> {
        let before = self.host_query("PRAGMA foreign_keys").await?;
        let before = before.rows.first().and_then(|r| r[0].as_integer()) == Some(1);
        if self.previewing && !enabled {
            // A plan's steps share one transaction: the pragma cannot take effect there.
            // Deferring the checks to a commit that never comes previews what it allows.
            self.raw("PRAGMA defer_foreign_keys = ON").await?;
            return Ok(());
        }
        if self.open && self.guest_statements > 0 {
            // Inside a transaction SQLite ignores the pragma. Turning the checks back on is
            // what the host does after the step anyway (a rebuild's closing `PRAGMA
            // foreign_keys = ON`); turning them off late would silently not happen.
            if enabled || !before {
                return Ok(());
            }
            return Err(Error::Denied(
                "PRAGMA foreign_keys = OFF must come before the step's other statements: \
                 SQLite ignores it inside a transaction, and the step's transaction has \
                 already done work"
                    .into(),
            ));
        }
        if self.changed.foreign_keys.is_none() {
            self.changed.foreign_keys = Some(before);
            if before && !enabled {
                self.violations_before = Some(self.foreign_key_violations().await?);
            }
        }
        let was_open = self.open;
        if was_open {
            self.end_transaction("ROLLBACK").await?;
        }
        let pragma = format!(
            "PRAGMA foreign_keys = {}",
            if enabled { "ON" } else { "OFF" }
        );
        self.raw(&pragma).await?;
        if was_open {
            self.begin_transaction().await?;
        }
        Ok(())
    }

    /// Foreign keys the step broke while it ran with SQLite's checks switched off (`PRAGMA
    /// foreign_keys = OFF`, as a table rebuild does): tables with more violating rows than
    /// when the checks went off, as `table (n rows referring to parent)`. Empty elsewhere.
    pub async fn new_foreign_key_violations(&mut self) -> Result<Vec<String>> {
        let Some(before) = self.violations_before.clone() else {
            return Ok(Vec::new());
        };
        let after = self.foreign_key_violations().await?;
        Ok(after
            .into_iter()
            .filter(|(key, count)| before.get(key).is_none_or(|was| count > was))
            .map(|((table, parent), count)| {
                format!("`{table}` ({count} rows referring to missing rows of `{parent}`)")
            })
            .collect())
    }

    /// Rows whose foreign keys refer to nothing, counted by (table, parent table).
    async fn foreign_key_violations(
        &mut self,
    ) -> Result<std::collections::BTreeMap<(String, String), u64>> {
        let rows = self
            .host_query(
                "SELECT \"table\", parent, COUNT(*) FROM pragma_foreign_key_check \
                 GROUP BY \"table\", parent",
            )
            .await?;
        Ok(rows
            .rows
            .iter()
            .filter_map(|r| {
                let count = u64::try_from(r[2].as_integer()?).ok()?;
                Some((
                    (r[0].as_text()?.to_owned(), r[1].as_text()?.to_owned()),
                    count,
                ))
            })
            .collect())
    }

    pub(crate) fn changed_step_lock(&mut self, held: bool) {
        self.changed.step_lock = held;
    }

    /// The transaction as a guest's: statements sent through the returned guard are prepared
    /// afresh each time and checked by the authorizer. Dropping the guard (also when the
    /// future holding it is cancelled) makes statements the host's again.
    pub fn as_guest(&mut self) -> AsGuest<'_> {
        self.guest.store(true, Ordering::Release);
        AsGuest { transaction: self }
    }

    fn mode<'b>(&self, budget: Option<&'b mut Budget>) -> backend::Mode<'b> {
        // Only SQLite's authorizer needs guest statements prepared afresh; elsewhere the
        // statement cache stays on (closing each statement costs round trips).
        backend::Mode {
            fresh: self.dialect() == Dialect::Sqlite && self.guest.load(Ordering::Acquire),
            budget,
        }
    }

    /// Names what SQLite's authorizer refused in a denial (SQLite itself often says only
    /// "not authorized"), and forgets refusals of statements that did not fail.
    fn explain<T>(&mut self, result: Result<T>) -> Result<T> {
        if self.guest.load(Ordering::Acquire) {
            self.guest_statements += 1;
            // A guest's query may write too (`RETURNING`, a data-changing `WITH`).
            self.written = true;
        }
        let refused = self
            .authorizer
            .as_ref()
            .and_then(authorizer::Installed::take_refusal);
        match (result, refused) {
            (Err(Error::Denied(message)), Some(what)) => Err(Error::Denied(format!(
                "SQLite's authorizer refused to {what} ({message})"
            ))),
            // Cancelled by the server's own timeout or by the host at the deadline.
            (Err(_), _) if self.watch.as_ref().is_some_and(Watch::passed) => Err(self
                .watch
                .as_ref()
                .map_or(Error::Abandoned, Watch::exceeded)),
            (result, _) => result,
        }
    }

    /// Runs a query of the host's whatever mode the transaction is in: not as the guest, not
    /// counted, not seen by the authorizer.
    async fn host_query(&mut self, sql: &str) -> Result<RowSet> {
        self.begin_call().await?;
        let guest = self.guest.swap(false, Ordering::AcqRel);
        let result = each_backend!(Conn, &mut self.conn, conn => {
            backend::held_query(conn, sql, &[], backend::Mode::default()).await
        });
        self.guest.store(guest, Ordering::Release);
        self.in_call = false;
        result
    }

    /// Runs host SQL (transaction control, settings) as plain text, outside the statement
    /// cache and the guest's role.
    async fn raw(&mut self, sql: &str) -> Result<()> {
        // The host's own statement, whatever mode the transaction is in.
        self.begin_call().await?;
        let guest = self.guest.swap(false, Ordering::AcqRel);
        let result = self.raw_as_host(sql).await;
        self.guest.store(guest, Ordering::Release);
        self.in_call = false;
        result
    }

    async fn raw_as_host(&mut self, sql: &str) -> Result<()> {
        match &mut self.conn {
            // PostgreSQL's simple protocol runs several statements in one round trip.
            Conn::Postgres(conn) => {
                sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                    .execute(&mut **conn)
                    .await?;
            }
            Conn::Sqlite(conn) => match self.sqlite {
                // On the handle, as every statement of the connection (see `sqlite_direct`).
                Some(raw) => crate::sqlite_direct::exec(raw, sql)?,
                None => {
                    (&mut **conn).execute(AssertSqlSafe(sql.to_owned())).await?;
                }
            },
            Conn::MySql(conn) => {
                (&mut **conn).execute(AssertSqlSafe(sql.to_owned())).await?;
            }
        }
        Ok(())
    }

    async fn end_transaction(&mut self, verb: &str) -> Result<()> {
        // The role of a transaction ends with it.
        if self.role_active && !self.changed.session_role {
            self.role_active = false;
        }
        self.savepoints.clear();
        // A cursor belongs to the transaction (SQLite's statement is finalized first).
        self.cursors.clear();
        self.open = false;
        let waiting = std::mem::take(&mut self.after_commit.0);
        self.raw(verb).await?;
        if verb == "COMMIT" {
            waiting.into_iter().for_each(|call| call());
        }
        Ok(())
    }

    /// Calls `call` once the open transaction commits; never if it rolls back.
    pub fn after_commit(&mut self, call: impl FnOnce() + Send + Sync + 'static) {
        self.after_commit.0.push(Box::new(call));
    }

    /// Runs guest statements as the role set by [`Transaction::use_guest_role`] and the host's
    /// as itself, switching only when the kind of statement changes.
    async fn switch_role(&mut self) -> Result<()> {
        let wanted = self.guest_role.is_some() && self.guest.load(Ordering::Acquire);
        if wanted == self.role_active {
            return Ok(());
        }
        let sql = match (&self.guest_role, wanted) {
            (Some(role), true) if self.open => {
                format!("SET LOCAL ROLE {}", Dialect::Postgres.quote(role))
            }
            (Some(role), true) => {
                self.changed.session_role = true;
                format!("SET ROLE {}", Dialect::Postgres.quote(role))
            }
            // Back to the host: and back to its search path, whatever the guest's code set.
            _ => match (&self.pg_session, self.open) {
                (Some(session), true) => format!("RESET ROLE; {}", session.pin_search_path()),
                _ => "RESET ROLE".to_owned(),
            },
        };
        if matches!(self.conn, Conn::Postgres(_)) {
            Box::pin(self.raw(&sql)).await?;
        }
        self.role_active = wanted;
        Ok(())
    }

    /// PostgreSQL: makes guest statements run as `role` (`None`: as the host), a role of the
    /// module's own that owns the module's objects and holds the grants of its manifest (made
    /// by `wasmig-confine`), so that the server itself refuses anything else. The host's own
    /// statements keep running as the host, with the search path they had. A no-op elsewhere.
    pub async fn use_guest_role(&mut self, role: Option<&str>) -> Result<()> {
        if self.dialect() != Dialect::Postgres {
            return Ok(());
        }
        // A transaction that serves several modules (a dry run) never keeps another's role.
        self.guest_role = role.map(str::to_owned);
        if role.is_some() && self.pg_session.is_none() {
            let session = postgres::Session::read(self).await?;
            self.raw(&session.pin_search_path()).await?;
            self.pg_session = Some(session);
        }
        Ok(())
    }

    /// MariaDB/MySQL: makes guest statements run as `account` (`None`: as the host), through
    /// its procedure, so that the server checks them with the account's privileges. A no-op
    /// elsewhere.
    pub fn use_guest_account(&mut self, account: Option<mysql_account::GuestAccount>) {
        if self.dialect() == Dialect::MySql {
            self.mysql_guest = account;
        }
    }

    /// Takes a savepoint named `name`, as the host or, through [`Transaction::as_guest`], under
    /// the guest's role.
    pub async fn savepoint(&mut self, name: &str) -> Result<()> {
        self.execute(&format!("SAVEPOINT {name}"), &[]).await?;
        self.savepoints.push((name.to_owned(), self.role_active));
        Ok(())
    }

    /// Ends the savepoint `name` taken with [`Transaction::savepoint`]: releases it, or rolls
    /// back to it (`undo`). Works after a failed statement, when PostgreSQL refuses anything
    /// else (no role is switched first); rolling back brings back the role in effect when the
    /// savepoint was taken.
    pub async fn end_savepoint(&mut self, name: &str, undo: bool) -> Result<()> {
        let sql = match undo {
            true => format!("ROLLBACK TO SAVEPOINT {name}"),
            false => format!("RELEASE SAVEPOINT {name}"),
        };
        self.raw(&sql).await?;
        if let Some(at) = self.savepoints.iter().rposition(|(n, _)| n == name) {
            let (_, role_active) = self.savepoints.remove(at);
            if undo {
                self.role_active = role_active;
            }
        }
        Ok(())
    }

    /// Installs SQLite's authorizer on this transaction's connection for as long as the
    /// transaction lives; it decides while guest statements are compiled. Other databases
    /// have no authorizer: this does nothing there.
    pub async fn install_authorizer(
        &mut self,
        decider: Arc<dyn authorizer::Authorizer>,
    ) -> Result<()> {
        // Statements prepared under another decider (another module's, in a dry run) were
        // authorized by it: never reuse them.
        self.statements.clear();
        self.cursors.clear();
        // The one installed before goes first: dropping it unsets SQLite's authorizer, which
        // would otherwise take the new one with it.
        self.authorizer = None;
        if let Some(raw) = self.sqlite {
            // SAFETY: the connection stays open while we hold it, and the authorizer is
            // removed (field order, `release`) before it goes back to the pool.
            self.authorizer = Some(unsafe {
                authorizer::Installed::new(raw.0, decider, Arc::clone(&self.guest))
            });
        }
        Ok(())
    }

    /// Opens a new transaction on the same connection after a statement committed the
    /// previous one implicitly (MySQL DDL), so what follows is atomic again. A no-op elsewhere.
    pub async fn restart_after_implicit_commit(&mut self) -> Result<()> {
        if matches!(self.conn, Conn::MySql(_)) && self.open {
            self.raw("BEGIN").await?;
        }
        Ok(())
    }

    /// SQLite: the version of the schema (`PRAGMA schema_version`), which every committed
    /// change of the schema increases, while this transaction has written nothing: what it
    /// reads then is the committed state of that version, which no later state shares. `None`
    /// on other databases (they keep no such counter), outside a transaction or once it wrote.
    pub async fn committed_schema_version(&mut self) -> Result<Option<i64>> {
        if !self.open || self.written || self.previewing {
            return Ok(None);
        }
        self.schema_version().await
    }

    /// SQLite: the version of the schema as this transaction sees it now (see
    /// [`Transaction::committed_schema_version`]); `None` on other databases.
    pub async fn schema_version(&mut self) -> Result<Option<i64>> {
        if self.dialect() != Dialect::Sqlite {
            return Ok(None);
        }
        let rows = self.query("PRAGMA schema_version", &[]).await?;
        Ok(rows.rows.first().and_then(|row| row.first()?.as_integer()))
    }

    /// The schema unqualified names resolve to: PostgreSQL's current schema, MySQL's current
    /// database; `None` on SQLite (its `main`).
    pub async fn home_schema(&mut self) -> Result<Option<String>> {
        let sql = match self.dialect() {
            Dialect::Sqlite => return Ok(None),
            Dialect::Postgres => "SELECT current_schema()::text",
            Dialect::MySql => "SELECT CAST(DATABASE() AS CHAR)",
        };
        let rows = self.query(sql, &[]).await?;
        Ok(rows
            .rows
            .first()
            .and_then(|r| r[0].as_text())
            .map(str::to_lowercase))
    }

    /// Every table, view, index and trigger in the home schema, lower-cased, with the table
    /// an index or trigger belongs to.
    pub async fn object_names(&mut self) -> Result<Vec<(String, Option<String>)>> {
        let sql = match self.dialect() {
            Dialect::Sqlite => {
                "SELECT name, CASE WHEN type IN ('index', 'trigger') THEN tbl_name END \
                 FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
            }
            // Relations (with the table behind an index, or behind the sequence of a serial
            // or identity column), triggers, types and functions.
            Dialect::Postgres => {
                "SELECT c.relname::text, COALESCE(i.indrelid, d.refobjid)::regclass::text \
                 FROM pg_class c \
                 LEFT JOIN pg_index i ON i.indexrelid = c.oid \
                 LEFT JOIN pg_depend d ON c.relkind = 'S' AND d.objid = c.oid \
                  AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass \
                  AND d.deptype IN ('a', 'i') \
                 WHERE c.relnamespace = current_schema()::regnamespace \
                 AND c.relkind IN ('r', 'v', 'm', 'p', 'f', 'S', 'i', 'I') \
                 UNION SELECT t.tgname::text, t.tgrelid::regclass::text FROM pg_trigger t \
                 JOIN pg_class c ON c.oid = t.tgrelid \
                 WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace \
                 UNION SELECT t.typname::text, NULL FROM pg_type t \
                 WHERE t.typnamespace = current_schema()::regnamespace \
                 AND t.typtype IN ('e', 'd', 'c', 'r', 'm') AND t.typelem = 0 \
                 AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c') \
                 UNION SELECT p.proname::text, NULL FROM pg_proc p \
                 WHERE p.pronamespace = current_schema()::regnamespace"
            }
            Dialect::MySql => {
                "SELECT CAST(table_name AS CHAR), CAST(NULL AS CHAR) FROM information_schema.tables \
                 WHERE table_schema = DATABASE() \
                 UNION SELECT CAST(index_name AS CHAR), CAST(table_name AS CHAR) \
                 FROM information_schema.statistics \
                 WHERE table_schema = DATABASE() AND index_name <> 'PRIMARY' \
                 UNION SELECT CAST(trigger_name AS CHAR), CAST(event_object_table AS CHAR) \
                 FROM information_schema.triggers WHERE trigger_schema = DATABASE()"
            }
        };
        let rows = self.query(sql, &[]).await?;
        Ok(rows
            .rows
            .iter()
            .filter_map(|r| {
                let name = r[0].as_text()?.to_lowercase();
                Some((name, r[1].as_text().map(str::to_lowercase)))
            })
            .collect())
    }

    /// Makes the transaction's changes permanent and gives the connection back.
    pub async fn commit(mut self) -> Result<()> {
        self.authorizer = None;
        if self.open {
            self.end_transaction("COMMIT").await?;
        }
        self.release().await;
        Ok(())
    }

    /// Discards the transaction's changes (on MySQL, those DDL has not committed already) and
    /// gives the connection back.
    pub async fn rollback(mut self) -> Result<()> {
        self.authorizer = None;
        if self.open {
            let rolled_back = self.end_transaction("ROLLBACK").await;
            if self.broken {
                // Closing the connection (see `Drop`) rolls back on the server.
                return Ok(());
            }
            rolled_back?;
        }
        self.release().await;
        Ok(())
    }

    /// Puts back what the step changed on the session; a connection that cannot be put back
    /// in order is closed rather than returned to the pool (see `Drop`).
    async fn release(&mut self) {
        let mut restore = Vec::new();
        if let Some(enabled) = self.changed.foreign_keys {
            restore.push(format!(
                "PRAGMA foreign_keys = {}",
                if enabled { "ON" } else { "OFF" }
            ));
        }
        if self.changed.session_role || self.role_active {
            restore.push("RESET ROLE".to_owned());
        }
        if self.changed.step_lock {
            restore.extend(Transaction::step_lock_release(self.dialect()));
        }
        if self.changed.statement_time {
            restore.push("SET SESSION max_statement_time = DEFAULT".into());
        }
        if let Some(count) = self.changed.guest_variables {
            restore.push(mysql_account::clear_variables(count));
        }
        if self.changed.settings {
            match self.dialect() {
                Dialect::MySql => restore.push(
                    "SET SESSION foreign_key_checks = DEFAULT, unique_checks = DEFAULT".into(),
                ),
                Dialect::Postgres => {
                    restore.push("RESET lock_timeout".into());
                    restore.push("RESET statement_timeout".into());
                }
                Dialect::Sqlite => {}
            }
        }
        for sql in restore {
            if let Err(e) = self.raw(&sql).await {
                tracing::warn!("could not restore the connection after a step ({sql}): {e}");
                return;
            }
        }
        self.changed = Changed::default();
        self.role_active = false;
        if let Some(session) = self.pg_session.take() {
            // Code the guest ran may have set anything a session may set, or left temporary
            // objects that would shadow the host's tables: such a session is not reused.
            self.poisoned = match postgres::Session::read(self).await {
                Ok(now) => now != session,
                Err(_) => true,
            };
            if self.poisoned {
                tracing::debug!("a step changed its session: its connection is closed");
            }
        }
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        self.cursors.clear();
        self.authorizer = None;
        let dirty = self.open
            || self.changed != Changed::default()
            || self.role_active
            || self.poisoned
            || self.broken
            || self.in_call;
        if !dirty {
            return;
        }
        match &mut self.conn {
            // An in-memory database dies with its connection: put it in order right here.
            Conn::Sqlite(_) => {
                let Some(raw) = self.sqlite else { return };
                if self.in_call {
                    // SAFETY: the connection is still held (see `RawSqlite`).
                    unsafe { ffi::sqlite3_interrupt(raw.0) };
                }
                if self.open {
                    raw.exec_quietly("ROLLBACK");
                }
                if let Some(enabled) = self.changed.foreign_keys {
                    raw.exec_quietly(if enabled {
                        "PRAGMA foreign_keys = ON"
                    } else {
                        "PRAGMA foreign_keys = OFF"
                    });
                }
            }
            // The server rolls back and forgets the session when the connection closes.
            Conn::Postgres(conn) => conn.close_on_drop(),
            Conn::MySql(conn) => conn.close_on_drop(),
        }
    }
}

/// The value `sql` sets SQLite's `foreign_keys` to, when it is `PRAGMA [main.]foreign_keys =
/// value` (or `(value)`); `None` for a read of the pragma.
fn sqlite_foreign_keys(sql: &str) -> Option<bool> {
    let compact: String = sql
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ';' && *c != '\'' && *c != '"')
        .collect::<String>()
        .to_lowercase();
    let rest = compact.strip_prefix("pragma")?;
    let rest = rest.strip_prefix("main.").unwrap_or(rest);
    let value = rest.strip_prefix("foreign_keys")?;
    let value = value
        .strip_prefix('=')
        .or_else(|| value.strip_prefix('(').and_then(|v| v.strip_suffix(')')))?;
    match value {
        "on" | "true" | "yes" | "1" => Some(true),
        "off" | "false" | "no" | "0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_foreign_keys_pragma_is_read_in_every_spelling() {
        assert_eq!(
            sqlite_foreign_keys("PRAGMA foreign_keys = OFF"),
            Some(false)
        );
        assert_eq!(
            sqlite_foreign_keys("pragma main.foreign_keys=1;"),
            Some(true)
        );
        assert_eq!(
            sqlite_foreign_keys("PRAGMA foreign_keys('no')"),
            Some(false)
        );
        assert_eq!(sqlite_foreign_keys("PRAGMA foreign_keys"), None);
        assert_eq!(sqlite_foreign_keys("PRAGMA foreign_key_list(t)"), None);
    }

    #[tokio::test]
    async fn foreign_keys_off_holds_for_the_step_and_is_put_back_after_it() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        let enabled = |rows: RowSet| rows.rows[0][0].as_integer() == Some(1);
        for end in ["commit", "rollback", "drop"] {
            let mut tx = db.begin().await.unwrap();
            tx.change_setting("PRAGMA foreign_keys = OFF")
                .await
                .unwrap();
            assert!(!enabled(
                tx.query("PRAGMA foreign_keys", &[]).await.unwrap()
            ));
            tx.as_guest()
                .execute("CREATE TABLE IF NOT EXISTS t (a INT)", &[])
                .await
                .unwrap();
            // Turning the checks back on at the end is what the host does anyway.
            tx.change_setting("PRAGMA foreign_keys = ON").await.unwrap();
            assert!(!enabled(
                tx.query("PRAGMA foreign_keys", &[]).await.unwrap()
            ));
            match end {
                "commit" => tx.commit().await.unwrap(),
                "rollback" => tx.rollback().await.unwrap(),
                _ => drop(tx),
            }
            let after = db.query("PRAGMA foreign_keys", &[]).await.unwrap();
            assert!(enabled(after), "foreign keys are back on after {end}");
        }
        // Switching them off after the step did work would silently not happen: refused.
        let mut tx = db.begin().await.expect("no transaction was left open");
        tx.as_guest()
            .execute("INSERT INTO t VALUES (1)", &[])
            .await
            .unwrap();
        let late = tx.change_setting("PRAGMA foreign_keys = OFF").await;
        assert!(matches!(late, Err(Error::Denied(_))), "{late:?}");
        tx.rollback().await.unwrap();
    }
}
