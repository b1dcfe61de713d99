//! Statements of a step that commits in pieces (MySQL, where DDL commits implicitly, and a
//! step that declares itself non-transactional): journaled in the transaction that makes them
//! durable, so that a step cut short at any moment resumes without a human.

use wasmig_db::{Denial, Rule, Value};

use crate::Error;
use crate::gate::Route;
use crate::journal::Statement;
use crate::session::{DbFailure, Mode, Output, Session, Stopped};

impl Session {
    /// Runs a statement that was not replayed. A statement that commits by itself is a commit
    /// point: what ran before it and an intent for it (with a fingerprint of what it touches)
    /// are written to the journal first, in the transaction it commits (or that is committed
    /// for it), and the intent is settled once it is known how the statement went. Returns
    /// the result, and whether the statement is journaled already.
    pub(crate) async fn run(
        &mut self,
        route: &Route,
        mode: Mode,
        sql: &str,
        params: &[Value],
        statement: &mut Statement,
    ) -> Result<(Result<Output, DbFailure>, bool), Stopped> {
        let dialect = self.transaction.dialect();
        let outside = dialect.runs_outside_transactions(sql);
        let commits = *route == Route::Guest && dialect.commits_implicitly(sql);
        if outside && !self.each_statement_commits {
            let reason = "cannot run inside the step's transaction: declare the step \
                 non-transactional (a first line `-- wasmig:no-transaction` in a SQL step, \
                 `no-transaction = [\"NNN_slug\"]` in module.toml for a component)";
            let denial = Denial::new(Rule::NonTransactional, sql, reason);
            return Err(self.stop(Error::Denied(denial)));
        }
        if !(self.journal.is_active() && (commits || outside)) {
            return Ok((self.run_routed(route, mode, sql, params).await?, false));
        }
        Box::pin(self.run_journaled(route, mode, sql, params, statement, outside)).await
    }

    /// [`Session::run`] for a statement that commits by itself (or runs outside any
    /// transaction) in a journaled step: its intent journaled before, its outcome after.
    async fn run_journaled(
        &mut self,
        route: &Route,
        mode: Mode,
        sql: &str,
        params: &[Value],
        statement: &mut Statement,
        outside: bool,
    ) -> Result<(Result<Output, DbFailure>, bool), Stopped> {
        self.write_intent(statement).await?;
        if outside {
            self.host(|tx| Box::pin(tx.commit_and_pause())).await?;
        }
        let result = self.run_routed(route, mode, sql, params).await?;
        if outside {
            self.host(|tx| Box::pin(tx.begin_transaction())).await?;
        } else {
            self.host(|tx| Box::pin(tx.restart_after_implicit_commit()))
                .await?;
        }
        let settled = match &result {
            Ok(output) => Some(output.affected()),
            Err(_) if mode == Mode::Tolerant => Some(0),
            Err(_) => None,
        };
        if let Err(reason) = self
            .journal
            .settle(&mut self.transaction, statement.position, settled)
            .await
        {
            return Err(self.stop(Error::Journal(reason)));
        }
        if settled.is_none() {
            // It did not happen: that must be durable before the step fails.
            self.host(|tx| Box::pin(tx.commit_and_continue())).await?;
        }
        Ok((result, true))
    }

    /// Records what the statement about to run creates, then journals what ran before it
    /// and the statement itself as an intent, in the open transaction.
    async fn write_intent(&mut self, statement: &mut Statement) -> Result<(), Stopped> {
        if let Err(reason) = self.gate.claim(&mut self.transaction).await {
            return Err(self.stop(Error::Host(wasmtime::Error::msg(format!(
                "recording what the statement creates failed: {reason}"
            )))));
        }
        let touched = self.gate.touched();
        let intent = match self.transaction.intent(touched).await {
            Ok(intent) => intent,
            Err(e) => return Err(self.stop(Error::Journal(e.to_string()))),
        };
        let mut entries = std::mem::take(&mut self.uncommitted);
        entries.push(Statement {
            intent: Some(intent),
            ..statement.clone()
        });
        match self.journal.write(&mut self.transaction, &entries).await {
            Ok(()) => Ok(()),
            Err(reason) => Err(self.stop(Error::Journal(reason))),
        }
    }

    /// Whether the statement at `position`, in flight when an earlier run stopped, took
    /// effect: the objects it touches no longer match the fingerprint taken before it ran.
    /// An index it left invalid (PostgreSQL) is dropped, and the statement runs again.
    pub(crate) async fn took_effect(
        &mut self,
        position: u32,
        intent: &wasmig_db::Intent,
    ) -> Result<bool, Stopped> {
        let touched = &intent.touched;
        if touched.is_empty() {
            return Ok(false);
        }
        let postgres = self.transaction.dialect() == wasmig_db::Dialect::Postgres;
        if postgres {
            // `DROP INDEX CONCURRENTLY` runs outside any transaction.
            self.host(|tx| Box::pin(tx.commit_and_pause())).await?;
        }
        let dropped = self.transaction.drop_invalid_indexes(touched).await;
        if postgres {
            self.host(|tx| Box::pin(tx.begin_transaction())).await?;
        }
        let dropped = match dropped {
            Ok(dropped) => dropped,
            Err(e) => return Err(self.stop(Error::Journal(e.to_string()))),
        };
        if !dropped.is_empty() {
            tracing::info!(
                ?dropped,
                "dropped the invalid index a cut-short statement left"
            );
            return Ok(false);
        }
        let now = match self.transaction.fingerprint(touched).await {
            Ok(now) => now,
            Err(e) => return Err(self.stop(Error::Journal(e.to_string()))),
        };
        if now == intent.fingerprint {
            return Ok(false);
        }
        match self
            .journal
            .settle(&mut self.transaction, position, Some(0))
            .await
        {
            Ok(()) => Ok(true),
            Err(reason) => Err(self.stop(Error::Journal(reason))),
        }
    }

    /// Journals a statement that ran (and was not journaled as a commit point): kept until
    /// the next commit point, or, in a non-transactional step, committed with it right away.
    pub(crate) async fn journal_ran(
        &mut self,
        mut statement: Statement,
        mode: Mode,
        result: &Result<Output, DbFailure>,
    ) -> Result<(), Stopped> {
        if !self.journal.is_active() || (result.is_err() && mode != Mode::Tolerant) {
            return Ok(());
        }
        match result {
            Ok(Output::Affected(n)) => statement.rows_affected = *n,
            Ok(Output::Rows(rows)) => statement.rows = Some(rows.clone()),
            Err(_) => {}
        }
        self.uncommitted.push(statement);
        if !self.each_statement_commits {
            return Ok(());
        }
        let entries = std::mem::take(&mut self.uncommitted);
        if let Err(reason) = self.journal.write(&mut self.transaction, &entries).await {
            return Err(self.stop(Error::Journal(reason)));
        }
        self.host(|tx| Box::pin(tx.commit_and_continue())).await
    }

    /// Runs one of the host's own transaction operations; a failure stops the step.
    async fn host<F>(&mut self, operation: F) -> Result<(), Stopped>
    where
        F: for<'t> FnOnce(
            &'t mut wasmig_db::Transaction,
        ) -> crate::BoxFuture<'t, wasmig_db::Result<()>>,
    {
        match operation(&mut self.transaction).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.stop(Error::Journal(e.to_string()))),
        }
    }
}
