//! The host side of the `wasmig:migration` world: the store's state and the imports it serves.

use wasmig_db::{Budget, Dialect, Transaction, Value};
use wasmtime::component::{HasSelf, Linker, Resource, ResourceTable, ResourceTableError};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::gate::{Gate, Hooks};
use crate::journal::{Admission, Journal, Statement};
use crate::sandbox::MemoryLimiter;
use crate::{Error, Limits, StepContext};

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "migration",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "wasmig:migration/database.connection": ConnectionHandle,
    },
});

use wasmig::migration::database::{self as wit_db, HostConnection};
use wasmig::migration::log::{self as wit_log, Level};
use wasmig::migration::types::{DbError, RowSet, SqlValue};

/// The guest's view of the step's connection; the transaction itself stays in [`StepState`].
pub struct ConnectionHandle;

/// Everything a step's store holds.
pub struct StepState {
    table: ResourceTable,
    wasi: WasiCtx,
    pub(crate) limiter: MemoryLimiter,
    transaction: Transaction,
    context: StepContext,
    journal: Box<dyn Journal>,
    gate: Box<dyn Gate>,
    limits: Limits,
    /// What the guest's queries may still return.
    budget: Budget,
    /// Statements run since the last implicit commit, not yet journaled.
    uncommitted: Vec<Statement>,
    /// Statements the guest sent (each row of a batch counts once).
    pub(crate) statements: u64,
    /// Why the host stopped the guest, when it did (reported instead of the trap).
    pub(crate) stopped: Option<Error>,
}

/// What a statement produced.
enum Output {
    Affected(u64),
    Rows(wasmig_db::RowSet),
}

impl StepState {
    pub(crate) fn new(
        transaction: Transaction,
        wasi: WasiCtx,
        limiter: MemoryLimiter,
        context: StepContext,
        hooks: Hooks,
        limits: Limits,
    ) -> Self {
        StepState {
            table: ResourceTable::new(),
            wasi,
            limiter,
            transaction,
            context,
            journal: hooks.journal,
            gate: hooks.gate,
            limits,
            budget: Budget {
                rows: limits.rows,
                bytes: limits.result_bytes,
            },
            uncommitted: Vec::new(),
            statements: 0,
            stopped: None,
        }
    }

    /// Creates the one connection resource the guest receives.
    pub(crate) fn open_connection(
        &mut self,
    ) -> Result<Resource<ConnectionHandle>, ResourceTableError> {
        self.table.push(ConnectionHandle)
    }

    pub(crate) fn into_transaction(self) -> Transaction {
        self.transaction
    }

    /// Checks that `handle` is the connection this store handed out.
    fn check(&self, handle: &Resource<ConnectionHandle>) -> wasmtime::Result<()> {
        self.table.get(handle)?;
        Ok(())
    }

    /// Stops the guest: the error is kept for the report, the trap unwinds the guest.
    fn stop(&mut self, error: Error) -> wasmtime::Error {
        let trap = wasmtime::Error::msg(error.to_string());
        self.stopped = Some(error);
        trap
    }

    /// Runs one statement of the guest through the journal: replayed statements that already
    /// committed are answered from the journal, and a statement that commits implicitly makes
    /// everything before it durable in the journal.
    async fn statement(
        &mut self,
        query: bool,
        sql: &str,
        params: &[Value],
    ) -> wasmtime::Result<Result<Output, DbError>> {
        if sql.trim().is_empty() {
            return Ok(Err(DbError::Invalid("empty statement".into())));
        }
        let position = u32::try_from(self.statements).unwrap_or(u32::MAX);
        self.statements += 1;
        let (module, step) = (&self.context.module, &self.context.step);
        tracing::debug!(%module, %step, position, query, sql, "statement");
        if let Err(reason) = self.gate.check(sql) {
            return Err(self.stop(Error::Denied(reason)));
        }
        if self.statements > self.limits.statements {
            let limit = self.limits.statements;
            return Err(self.stop(Error::Quota(format!(
                "the step sent more than {limit} statements"
            ))));
        }
        let dialect = self.transaction.dialect();
        if dialect.commits_implicitly(sql)
            && let Err(reason) = self.gate.claim(&mut self.transaction).await
        {
            return Err(self.stop(Error::Host(wasmtime::Error::msg(format!(
                "recording what the statement creates failed: {reason}"
            )))));
        }
        let mut statement = Statement::new(position, sql, params);
        let admission = self.journal.admit(&statement);
        let replayed = matches!(admission, Ok(Admission::Replay { .. }));
        let result = match admission {
            Ok(Admission::Replay {
                rows: Some(rows), ..
            }) if query => Ok(Output::Rows(rows)),
            Ok(Admission::Replay { rows_affected, .. }) if !query => {
                Ok(Output::Affected(rows_affected))
            }
            Err(reason) => return Err(self.stop(Error::Diverged(reason))),
            // To run, or a query journaled without its rows: ask the database.
            Ok(_) => self.run_guest_statement(query, sql, params).await?,
        };
        if !dialect.has_transactional_ddl() && !replayed {
            match &result {
                Ok(Output::Affected(n)) => statement.rows_affected = *n,
                Ok(Output::Rows(rows)) => statement.rows = Some(rows.clone()),
                Err(_) => {}
            }
            if result.is_ok() {
                self.uncommitted.push(statement);
            }
            // MySQL commits before running DDL, even DDL that then fails.
            if dialect.commits_implicitly(sql) {
                self.make_durable().await?;
            }
        }
        if result.is_ok()
            && let Err(reason) = self.gate.ran(&mut self.transaction).await
        {
            return Err(self.stop(Error::Host(wasmtime::Error::msg(format!(
                "recording what the statement created or dropped failed: {reason}"
            )))));
        }
        Ok(result.map_err(|e| DbError::Database(e.to_string())))
    }

    /// Runs a guest statement on the database, as a guest's (the authorizer decides while it
    /// compiles, results count against the budget). A refusal by the database or an exceeded
    /// budget stops the guest; other errors are the guest's to handle.
    async fn run_guest_statement(
        &mut self,
        query: bool,
        sql: &str,
        params: &[Value],
    ) -> wasmtime::Result<Result<Output, wasmig_db::Error>> {
        self.transaction.set_guest(true);
        let result = if query {
            self.transaction
                .query_within(sql, params, &mut self.budget)
                .await
                .map(Output::Rows)
        } else {
            self.transaction
                .execute(sql, params)
                .await
                .map(Output::Affected)
        };
        self.transaction.set_guest(false);
        match result {
            Err(wasmig_db::Error::Denied(reason)) => Err(self.stop(Error::Denied(format!(
                "the database refused `{sql}`: {reason}"
            )))),
            Err(wasmig_db::Error::Quota(reason)) => Err(self.stop(Error::Quota(reason))),
            other => Ok(other),
        }
    }

    /// Journals what just committed implicitly and opens a new transaction for what follows.
    async fn make_durable(&mut self) -> wasmtime::Result<()> {
        if let Err(reason) = self.journal.committed(&self.uncommitted).await {
            return Err(self.stop(Error::Journal(reason)));
        }
        self.uncommitted.clear();
        if let Err(e) = self.transaction.restart_after_implicit_commit().await {
            return Err(self.stop(Error::Journal(e.to_string())));
        }
        Ok(())
    }
}

impl WasiView for StepState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Adds the `wasmig:migration` imports to `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<StepState>) -> wasmtime::Result<()> {
    Migration::add_to_linker::<_, HasSelf<_>>(linker, |state| state)
}

/// Converts the host's context into the WIT record.
pub(crate) fn wit_context(context: StepContext) -> exports::wasmig::migration::step::Context {
    exports::wasmig::migration::step::Context {
        module: context.module,
        step: context.step,
        from_version: context.from_version,
        to_version: context.to_version,
    }
}

fn from_wit(value: SqlValue) -> Value {
    match value {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(v) => Value::Integer(v),
        SqlValue::Real(v) => Value::Real(v),
        SqlValue::Text(v) => Value::Text(v),
        SqlValue::Blob(v) => Value::Blob(v),
    }
}

fn to_wit(value: Value) -> SqlValue {
    match value {
        Value::Null => SqlValue::Null,
        Value::Integer(v) => SqlValue::Integer(v),
        Value::Real(v) => SqlValue::Real(v),
        Value::Text(v) => SqlValue::Text(v),
        Value::Blob(v) => SqlValue::Blob(v),
    }
}

impl wasmig::migration::types::Host for StepState {}

impl wit_db::Host for StepState {}

impl HostConnection for StepState {
    async fn dialect(
        &mut self,
        handle: Resource<ConnectionHandle>,
    ) -> wasmtime::Result<wit_db::Dialect> {
        self.check(&handle)?;
        Ok(match self.transaction.dialect() {
            Dialect::Sqlite => wit_db::Dialect::Sqlite,
            Dialect::Postgres => wit_db::Dialect::Postgres,
            Dialect::MySql => wit_db::Dialect::Mysql,
        })
    }

    async fn execute(
        &mut self,
        handle: Resource<ConnectionHandle>,
        sql: String,
        params: Vec<SqlValue>,
    ) -> wasmtime::Result<Result<u64, DbError>> {
        self.check(&handle)?;
        let params: Vec<Value> = params.into_iter().map(from_wit).collect();
        Ok(self.statement(false, &sql, &params).await?.map(affected))
    }

    async fn query(
        &mut self,
        handle: Resource<ConnectionHandle>,
        sql: String,
        params: Vec<SqlValue>,
    ) -> wasmtime::Result<Result<RowSet, DbError>> {
        self.check(&handle)?;
        let params: Vec<Value> = params.into_iter().map(from_wit).collect();
        Ok(self
            .statement(true, &sql, &params)
            .await?
            .map(|output| match output {
                Output::Rows(set) => RowSet {
                    columns: set.columns,
                    rows: set
                        .rows
                        .into_iter()
                        .map(|row| row.into_iter().map(to_wit).collect())
                        .collect(),
                },
                Output::Affected(_) => RowSet {
                    columns: Vec::new(),
                    rows: Vec::new(),
                },
            }))
    }

    async fn execute_batch(
        &mut self,
        handle: Resource<ConnectionHandle>,
        sql: String,
        rows: Vec<Vec<SqlValue>>,
    ) -> wasmtime::Result<Result<u64, DbError>> {
        self.check(&handle)?;
        let mut total = 0;
        for row in rows {
            let params: Vec<Value> = row.into_iter().map(from_wit).collect();
            match self.statement(false, &sql, &params).await? {
                Ok(output) => total += affected(output),
                Err(e) => return Ok(Err(e)),
            }
        }
        Ok(Ok(total))
    }

    async fn drop(&mut self, handle: Resource<ConnectionHandle>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}

fn affected(output: Output) -> u64 {
    match output {
        Output::Affected(n) => n,
        Output::Rows(_) => 0,
    }
}

impl wit_log::Host for StepState {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let (module, step) = (&self.context.module, &self.context.step);
        match level {
            Level::Trace => tracing::trace!(target: "wasmig::guest", %module, %step, "{message}"),
            Level::Debug => tracing::debug!(target: "wasmig::guest", %module, %step, "{message}"),
            Level::Info => tracing::info!(target: "wasmig::guest", %module, %step, "{message}"),
            Level::Warn => tracing::warn!(target: "wasmig::guest", %module, %step, "{message}"),
            Level::Error => tracing::error!(target: "wasmig::guest", %module, %step, "{message}"),
        }
        Ok(())
    }
}
