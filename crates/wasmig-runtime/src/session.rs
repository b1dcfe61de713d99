//! The database side of one step: every statement a guest (or a SQL script) sends passes
//! through here, in order: the policy, the quotas, the journal, then the database.

mod cursor;

use std::time::Instant;

use wasmig_db::{Budget, Denial, Rule, Transaction, Value};

use crate::gate::{Gate, GuestStatement, Hooks, Route};
use crate::journal::{Admission, Journal, Statement};
use crate::{Error, Limits, StepContext, Tolerated};

pub use cursor::CursorHandle;
pub(crate) use cursor::MAX_PAGE;

/// A database error the guest may handle (the step goes on if it does).
pub(crate) type DbFailure = wasmig_db::Error;

/// The step's transaction and everything that decides about its statements.
pub(crate) struct Session {
    pub(crate) transaction: Transaction,
    pub(crate) context: StepContext,
    pub(crate) journal: Box<dyn Journal>,
    pub(crate) gate: Box<dyn Gate>,
    limits: Limits,
    /// What the guest's queries may still return.
    budget: Budget,
    /// Statements run since the last commit, not yet journaled.
    pub(crate) uncommitted: Vec<Statement>,
    /// True when every statement commits by itself (a non-transactional step).
    pub(crate) each_statement_commits: bool,
    /// Statements the guest sent (each row of a batch counts once).
    pub(crate) statements: u64,
    /// Statements that failed and were allowed to.
    pub(crate) tolerated: Vec<Tolerated>,
    /// Why the host stopped the guest, when it did (reported instead of the trap).
    pub(crate) stopped: Option<Error>,
}

/// The savepoint a tolerant statement runs in (PostgreSQL).
const TOLERANT_SAVEPOINT: &str = "wasmig_tolerant";

/// What a statement produced.
pub(crate) enum Output {
    Affected(u64),
    Rows(wasmig_db::RowSet),
}

impl Output {
    pub(crate) fn affected(&self) -> u64 {
        match self {
            Output::Affected(n) => *n,
            Output::Rows(_) => 0,
        }
    }
}

/// How a statement is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A statement whose rows are wanted.
    Query,
    /// A statement whose row count is wanted.
    Execute,
    /// Like `Execute`, but a database error is recorded and does not spoil the step.
    Tolerant,
}

/// The guest was stopped; the reason is in [`Session::stopped`].
#[derive(Debug)]
pub(crate) struct Stopped;

impl Session {
    pub(crate) fn new(
        transaction: Transaction,
        context: StepContext,
        hooks: Hooks,
        limits: Limits,
    ) -> Self {
        Session {
            transaction,
            context,
            journal: hooks.journal,
            gate: hooks.gate,
            each_statement_commits: hooks.each_statement_commits,
            limits,
            budget: Budget {
                rows: limits.rows,
                bytes: limits.result_bytes,
            },
            uncommitted: Vec::new(),
            statements: 0,
            tolerated: Vec::new(),
            stopped: None,
        }
    }

    pub(crate) fn transaction(&self) -> &Transaction {
        &self.transaction
    }

    pub(crate) fn into_transaction(self) -> Transaction {
        self.transaction
    }

    /// Stops the step: the error is kept for the report.
    pub(crate) fn stop(&mut self, error: Error) -> Stopped {
        self.stopped = Some(error);
        Stopped
    }

    /// Runs one statement through the policy, the quotas and the journal: a replayed
    /// statement that already committed is answered from the journal, one that was in flight
    /// when an earlier run stopped is decided from the catalog, and a statement that commits
    /// by itself is journaled first (see `commit_point`).
    pub(crate) async fn statement(
        &mut self,
        mode: Mode,
        sql: &str,
        params: &[Value],
    ) -> Result<Result<Output, DbFailure>, Stopped> {
        let position = u32::try_from(self.statements).unwrap_or(u32::MAX);
        self.count_statements(sql, 1)?;
        self.counted_statement(position, mode, sql, params, None)
            .await
    }

    /// [`Session::statement`] once the statement was counted against the limits: `position`
    /// is its place in the step (a chunk of a batch takes its first row's); `repeats`, for a
    /// batch's chunk, the single-row statement it repeats (see [`GuestStatement::repeats`]).
    async fn counted_statement(
        &mut self,
        position: u32,
        mode: Mode,
        sql: &str,
        params: &[Value],
        repeats: Option<&str>,
    ) -> Result<Result<Output, DbFailure>, Stopped> {
        tracing::debug!(
            module = %self.context.module,
            step = %self.context.step,
            position,
            ?mode,
            sql,
            "statement"
        );
        let request = GuestStatement {
            sql,
            params,
            tolerant: mode == Mode::Tolerant,
            repeats,
        };
        // Only a journal reads the digest of the text and the parameters.
        let mut statement = if self.journal.is_active() {
            Statement::new(position, sql, params)
        } else {
            Statement::untracked(position)
        };
        let admission = self.admit(&statement).await?;
        let route = match self.gate.check(&request) {
            Ok(route) => route,
            // The policy allowed it when it ran, and its effects are in the catalog now: a
            // replay does not run it again, whatever the policy makes of that catalog.
            Err(reason) if matches!(admission, Admission::Replay { .. }) => {
                tracing::debug!(sql, "replayed without a second check: {reason}");
                Route::Guest
            }
            Err(reason) => return Err(self.stop(Error::Denied(reason))),
        };
        let (result, journaled) = match admission {
            // A setting does not outlive the session that set it: it runs on a replay too.
            admission if route == Route::Setting => (
                Box::pin(self.change_setting(sql)).await?,
                matches!(admission, Admission::Replay { .. }),
            ),
            Admission::Replay {
                rows: Some(rows), ..
            } if mode == Mode::Query => (Ok(Output::Rows(rows)), true),
            Admission::Replay { rows_affected, .. } if mode != Mode::Query => {
                (Ok(Output::Affected(rows_affected)), true)
            }
            // To run, or a query journaled without its rows: ask the database.
            _ => self.run(&route, mode, sql, params, &mut statement).await?,
        };
        if let (Mode::Tolerant, Err(error)) = (mode, &result) {
            self.tolerate(position, sql, error);
        }
        self.after_guest_statement(result.is_ok()).await?;
        // Boxed, like every path a plain statement does not take: see `Transaction::execute`.
        if !journaled && self.journal.is_active() {
            Box::pin(self.journal_ran(statement, mode, &result)).await?;
        }
        Ok(result)
    }

    /// Tells the gate that the statement it last checked ran, when it `succeeded`: it records
    /// what the statement created or dropped; a failure to record stops the step.
    async fn after_guest_statement(&mut self, succeeded: bool) -> Result<(), Stopped> {
        if !succeeded {
            return Ok(());
        }
        let Some(recording) = self.gate.ran(&mut self.transaction) else {
            return Ok(());
        };
        let recorded = recording.await.map_err(|reason| reason.to_string());
        if let Err(reason) = recorded {
            return Err(self.stop(Error::Host(wasmtime::Error::msg(format!(
                "recording what the statement created or dropped failed: {reason}"
            )))));
        }
        Ok(())
    }

    /// Rows per multi-row statement at most (see [`Session::multi_row`]).
    pub(crate) const MULTI_ROW_CHUNK: usize = 1000;

    /// Runs `sql` once for every row of `rows` (`execute_batch`). A single-row `INSERT …
    /// VALUES` of placeholders runs as multi-row statements where the gate knows how (see
    /// [`Session::multi_row`]); anything else, and every statement on SQLite (where a row
    /// costs no round trip), runs row by row.
    pub(crate) async fn batch(
        &mut self,
        sql: &str,
        rows: &[Vec<Value>],
    ) -> Result<Result<u64, DbFailure>, Stopped> {
        let columns = match self.gate.multi_row(sql, 1, false) {
            Some((_, columns))
                if rows.len() > 1
                    && self.transaction.dialect() != wasmig_db::Dialect::Sqlite
                    && rows.iter().all(|row| row.len() == columns) =>
            {
                Some(columns)
            }
            _ => None,
        };
        let Some(columns) = columns else {
            return self.rows_one_by_one(sql, rows).await;
        };
        self.multi_row(sql, rows, columns).await
    }

    /// [`Session::batch`] for a statement the gate repeats: sent in chunks of as many rows as
    /// a statement takes parameters (at most [`Session::MULTI_ROW_CHUNK`]), each chunk one
    /// statement through the policy and the journal like any other; every row counts against
    /// the statement limit. A chunk run as a MariaDB/MySQL module account names its
    /// parameters as the session variables the account's procedure reads, where it has more
    /// than the procedure's `USING` lists take.
    async fn multi_row(
        &mut self,
        sql: &str,
        rows: &[Vec<Value>],
        columns: usize,
    ) -> Result<Result<u64, DbFailure>, Stopped> {
        // The same chunks on every run of the step, whatever the connection, so that a resumed
        // step's chunks meet the journal's at the same positions.
        let per_chunk = (usize::from(u16::MAX) / columns.max(1)).clamp(1, Self::MULTI_ROW_CHUNK);
        let account = self.transaction.guest_account().is_some();
        let mut total = 0;
        for (index, chunk) in rows.chunks(per_chunk).enumerate() {
            let named = account && wasmig_db::mysql_guest_names_variables(chunk.len() * columns);
            let Some((text, _)) = self.gate.multi_row(sql, chunk.len(), named) else {
                let rest = &rows[index * per_chunk..];
                return Ok(self.rows_one_by_one(sql, rest).await?.map(|n| n + total));
            };
            let position = u32::try_from(self.statements).unwrap_or(u32::MAX);
            // Counted and limited as the rows the guest sent, not as the text sent for them.
            self.count_statements(sql, chunk.len())?;
            match self
                .counted_statement(position, Mode::Execute, &text, &chunk.concat(), Some(sql))
                .await?
            {
                Ok(output) => total += output.affected(),
                Err(e) => return Ok(Err(e)),
            }
        }
        Ok(Ok(total))
    }

    /// Runs `sql` for each row on its own.
    async fn rows_one_by_one(
        &mut self,
        sql: &str,
        rows: &[Vec<Value>],
    ) -> Result<Result<u64, DbFailure>, Stopped> {
        let mut total = 0;
        for row in rows {
            match self.statement(Mode::Execute, sql, row).await? {
                Ok(output) => total += output.affected(),
                Err(e) => return Ok(Err(e)),
            }
        }
        Ok(Ok(total))
    }

    /// Charges `count` statements of text `sql` to the step's limits.
    fn count_statements(&mut self, sql: &str, count: usize) -> Result<(), Stopped> {
        self.statements += count as u64;
        if sql.len() > self.limits.statement_bytes {
            let limit = self.limits.statement_bytes >> 10;
            return Err(self.stop(Error::Quota(format!(
                "a statement of {} KiB is longer than the {limit} KiB a statement may be",
                sql.len() >> 10
            ))));
        }
        if self.statements > self.limits.statements {
            let limit = self.limits.statements;
            return Err(self.stop(Error::Quota(format!(
                "the step sent more than {limit} statements"
            ))));
        }
        Ok(())
    }

    /// What the journal says about a statement: a statement in flight when an earlier run
    /// stopped counts as replayed once the catalog shows it took effect.
    async fn admit(&mut self, statement: &Statement) -> Result<Admission, Stopped> {
        let admission = match self.journal.admit(statement) {
            Ok(admission) => admission,
            Err(reason) => return Err(self.stop(Error::Diverged(reason))),
        };
        if let Admission::InFlight(intent) = &admission
            && Box::pin(self.took_effect(statement.position, intent)).await?
        {
            return Ok(Admission::Replay {
                rows_affected: 0,
                rows: None,
            });
        }
        Ok(admission)
    }

    /// Records a tolerant statement's failure: logged, and kept for the step's history.
    fn tolerate(&mut self, position: u32, sql: &str, error: &DbFailure) {
        tracing::warn!(
            module = %self.context.module,
            step = %self.context.step,
            sql,
            "a tolerant statement failed: {error}"
        );
        self.tolerated.push(Tolerated {
            position,
            sql: sql.to_owned(),
            error: error.to_string(),
        });
    }

    /// Runs a statement the way the gate said: as the guest's, as the host's, or as the
    /// statements that stand in for it.
    pub(crate) async fn run_routed(
        &mut self,
        route: &Route,
        mode: Mode,
        sql: &str,
        params: &[Value],
    ) -> Result<Result<Output, DbFailure>, Stopped> {
        match route {
            Route::Host => Ok(self
                .transaction
                .execute(sql, params)
                .await
                .map(Output::Affected)),
            Route::Instead(statements) => {
                let mut last = Ok(Output::Affected(0));
                for statement in statements {
                    last = self.run_on_database(Mode::Execute, statement, &[]).await?;
                    if last.is_err() {
                        break;
                    }
                }
                Ok(last)
            }
            Route::Rewritten(confined) => self.run_on_database(mode, confined, params).await,
            Route::Guest | Route::Setting => self.run_on_database(mode, sql, params).await,
        }
    }

    /// Changes a session setting the policy allowed (the host puts it back after the step).
    /// A refusal stops the step.
    async fn change_setting(&mut self, sql: &str) -> Result<Result<Output, DbFailure>, Stopped> {
        // The guest's text runs as the guest's: confined, and checked by SQLite's authorizer.
        let changed = self.transaction.as_guest().change_setting(sql).await;
        match changed {
            Err(wasmig_db::Error::Denied(reason)) => Err(self.stop(database_denial(sql, reason))),
            other => Ok(other.map(Output::Affected)),
        }
    }

    /// Runs a statement on the database as the guest's (the authorizer decides while it
    /// compiles, results count against the budget). A refusal by the database or an exceeded
    /// budget stops the step; other errors are the guest's to handle. A tolerant statement
    /// runs inside a savepoint on PostgreSQL, where an error would spoil the transaction.
    async fn run_on_database(
        &mut self,
        mode: Mode,
        sql: &str,
        params: &[Value],
    ) -> Result<Result<Output, DbFailure>, Stopped> {
        let savepoint = mode == Mode::Tolerant
            && self.transaction.dialect() == wasmig_db::Dialect::Postgres
            && self.transaction.is_open();
        let mut guest = self.transaction.as_guest();
        let result = if savepoint {
            Box::pin(in_savepoint(
                &mut guest,
                &mut self.budget,
                mode,
                sql,
                params,
            ))
            .await
        } else {
            Ok(guest_statement(&mut guest, &mut self.budget, mode, sql, params).await)
        };
        drop(guest);
        let result = result.map_err(|e| {
            self.stop(Error::Host(wasmtime::Error::msg(format!(
                "the savepoint around a tolerant statement failed: {e}"
            ))))
        })?;
        self.verdict(sql, result)
    }

    /// What the guest gets from a statement the database ran as its own: a refusal by the
    /// database or an exceeded budget stops the step, other errors are the guest's to handle.
    fn verdict<T>(
        &mut self,
        sql: &str,
        result: wasmig_db::Result<T>,
    ) -> Result<wasmig_db::Result<T>, Stopped> {
        match result {
            Err(wasmig_db::Error::Denied(reason)) => Err(self.stop(database_denial(sql, reason))),
            Err(wasmig_db::Error::Quota(reason)) => Err(self.stop(Error::Quota(reason))),
            other => Ok(other),
        }
    }

    /// The step's outcome once what the database can only check at the end is checked: a
    /// step that switched SQLite's foreign-key checks off must not leave rows that refer to
    /// nothing (the documented table rebuild ends with this check).
    pub(crate) async fn settle(&mut self, result: Result<(), Error>) -> Result<(), Error> {
        if result.is_err() || self.stopped.is_some() {
            return result;
        }
        match self.transaction.new_foreign_key_violations().await {
            Ok(broken) if broken.is_empty() => Ok(()),
            Ok(broken) => Err(Error::Returned(format!(
                "the step ran with foreign keys off and left rows that refer to nothing: {}",
                broken.join(", ")
            ))),
            Err(e) => Err(Error::Host(wasmtime::Error::msg(format!(
                "checking foreign keys after the step failed: {e}"
            )))),
        }
    }

    /// Prepares the transaction for the step: the database-side check of the gate, and the
    /// step's deadline (`limit` from `started`) on the server's side.
    pub(crate) async fn prepare(&mut self, started: Instant) -> Result<(), Stopped> {
        let deadline = started + self.limits.time;
        let prepared = match self.gate.authorizer() {
            Some(authorizer) => self.transaction.install_authorizer(authorizer).await,
            None => Ok(()),
        };
        let prepared = match prepared {
            Ok(()) => {
                self.transaction
                    .set_deadline(deadline, self.limits.time)
                    .await
            }
            failed => failed,
        };
        prepared.map_err(|e| self.stop(Error::Host(wasmtime::Error::msg(e.to_string()))))
    }
}

/// The database's own layer refused `sql` (SQLite's authorizer, a role, an account).
fn database_denial(sql: &str, reason: String) -> Error {
    Error::Denied(Denial::new(Rule::Database, sql, reason))
}

/// Runs the statement in guest mode.
async fn guest_statement(
    transaction: &mut Transaction,
    budget: &mut Budget,
    mode: Mode,
    sql: &str,
    params: &[Value],
) -> wasmig_db::Result<Output> {
    match mode {
        Mode::Query => transaction
            .query_within(sql, params, budget)
            .await
            .map(Output::Rows),
        Mode::Execute | Mode::Tolerant => {
            transaction.execute(sql, params).await.map(Output::Affected)
        }
    }
}

/// [`guest_statement`] inside a savepoint: taken after the switch to the module's role, so
/// that rolling back to it keeps that role. The outer error is the savepoint's own.
async fn in_savepoint(
    transaction: &mut Transaction,
    budget: &mut Budget,
    mode: Mode,
    sql: &str,
    params: &[Value],
) -> wasmig_db::Result<wasmig_db::Result<Output>> {
    transaction.savepoint(TOLERANT_SAVEPOINT).await?;
    let result = guest_statement(transaction, budget, mode, sql, params).await;
    transaction
        .end_savepoint(TOLERANT_SAVEPOINT, result.is_err())
        .await?;
    Ok(result)
}
