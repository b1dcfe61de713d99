//! The host side of the `wasmig:migration` world: the store's state and the imports it serves.

use wasmig_db::{Dialect, Transaction, Value};
use wasmtime::component::{HasSelf, Linker, Resource, ResourceTable, ResourceTableError};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::journal::{Admission, Journal, Statement};
use crate::sandbox::MemoryLimiter;
use crate::{Error, StepContext};

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
        journal: Box<dyn Journal>,
    ) -> Self {
        StepState {
            table: ResourceTable::new(),
            wasi,
            limiter,
            transaction,
            context,
            journal,
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
        let mut statement = Statement::new(position, sql, params);
        let admission = self.journal.admit(&statement);
        let replayed = matches!(admission, Ok(Admission::Replay { .. }));
        match admission {
            Ok(Admission::Run) => {}
            Ok(Admission::Replay {
                rows: Some(rows), ..
            }) if query => {
                return Ok(Ok(Output::Rows(rows)));
            }
            Ok(Admission::Replay { rows_affected, .. }) if !query => {
                return Ok(Ok(Output::Affected(rows_affected)));
            }
            // A query journaled without its rows: ask the database again.
            Ok(Admission::Replay { .. }) => {}
            Err(reason) => return Err(self.stop(Error::Diverged(reason))),
        }
        let result = if query {
            self.transaction.query(sql, params).await.map(Output::Rows)
        } else {
            self.transaction
                .execute(sql, params)
                .await
                .map(Output::Affected)
        };
        let dialect = self.transaction.dialect();
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
        Ok(result.map_err(|e| DbError::Database(e.to_string())))
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
