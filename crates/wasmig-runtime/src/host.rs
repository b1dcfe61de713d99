//! The host side of the `wasmig:migration` world: the store's state and the imports it serves.

use wasmig_db::{Dialect, Value};
use wasmtime::component::{HasSelf, Linker, Resource, ResourceTable, ResourceTableError};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::StepContext;
use crate::sandbox::MemoryLimiter;
pub use crate::session::CursorHandle;
use crate::session::{MAX_PAGE, Mode, Output, Session, Stopped};

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "migration",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "wasmig:migration/database.connection": ConnectionHandle,
        "wasmig:migration/database.cursor": CursorHandle,
    },
});

use wasmig::migration::database::{self as wit_db, HostConnection, HostCursor};
use wasmig::migration::log::{self as wit_log, Level};
use wasmig::migration::types::{DbError, RowSet, SqlValue};

/// The guest's view of the step's connection; the transaction itself stays in [`StepState`].
pub struct ConnectionHandle;

/// Everything a step's store holds.
pub struct StepState {
    table: ResourceTable,
    wasi: WasiCtx,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) session: Session,
}

impl StepState {
    pub(crate) fn new(wasi: WasiCtx, limiter: MemoryLimiter, session: Session) -> Self {
        StepState {
            table: ResourceTable::new(),
            wasi,
            limiter,
            session,
        }
    }

    /// Creates the one connection resource the guest receives.
    pub(crate) fn open_connection(
        &mut self,
    ) -> Result<Resource<ConnectionHandle>, ResourceTableError> {
        self.table.push(ConnectionHandle)
    }

    /// Checks that `handle` is the connection this store handed out.
    fn check(&self, handle: &Resource<ConnectionHandle>) -> wasmtime::Result<()> {
        self.table.get(handle)?;
        Ok(())
    }

    /// Sends one statement whose row count the guest wants.
    async fn affected(
        &mut self,
        mode: Mode,
        handle: &Resource<ConnectionHandle>,
        sql: &str,
        params: Vec<SqlValue>,
    ) -> wasmtime::Result<Result<u64, DbError>> {
        self.check(handle)?;
        Ok(self
            .statement(mode, sql, params)
            .await?
            .map(|output| output.affected()))
    }

    /// Sends one statement of the guest; a stop becomes a trap that unwinds the guest.
    async fn statement(
        &mut self,
        mode: Mode,
        sql: &str,
        params: Vec<SqlValue>,
    ) -> wasmtime::Result<Result<Output, DbError>> {
        if sql.trim().is_empty() {
            return Ok(Err(DbError::Invalid("empty statement".into())));
        }
        let params: Vec<Value> = params.into_iter().map(from_wit).collect();
        let result = self.session.statement(mode, sql, &params).await;
        self.answer(result)
    }

    /// Answers a guest's call that the session ran: a stop becomes a trap that unwinds the
    /// guest, a database error the guest's to handle.
    fn answer<T>(
        &self,
        result: Result<Result<T, wasmig_db::Error>, Stopped>,
    ) -> wasmtime::Result<Result<T, DbError>> {
        match result {
            Ok(result) => Ok(result.map_err(|e| DbError::Database(e.to_string()))),
            Err(Stopped) => Err(self.stopped_trap()),
        }
    }

    /// The trap that unwinds a guest the session stopped.
    fn stopped_trap(&self) -> wasmtime::Error {
        wasmtime::Error::msg(
            self.session
                .stopped
                .as_ref()
                .map_or_else(|| "stopped".to_owned(), ToString::to_string),
        )
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
        Ok(match self.session.transaction().dialect() {
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
        self.affected(Mode::Execute, &handle, &sql, params).await
    }

    async fn query(
        &mut self,
        handle: Resource<ConnectionHandle>,
        sql: String,
        params: Vec<SqlValue>,
    ) -> wasmtime::Result<Result<RowSet, DbError>> {
        self.check(&handle)?;
        Ok(self
            .statement(Mode::Query, &sql, params)
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

    async fn execute_tolerant(
        &mut self,
        handle: Resource<ConnectionHandle>,
        sql: String,
        params: Vec<SqlValue>,
    ) -> wasmtime::Result<Result<u64, DbError>> {
        self.affected(Mode::Tolerant, &handle, &sql, params).await
    }

    async fn execute_batch(
        &mut self,
        handle: Resource<ConnectionHandle>,
        sql: String,
        rows: Vec<Vec<SqlValue>>,
    ) -> wasmtime::Result<Result<u64, DbError>> {
        self.check(&handle)?;
        if sql.trim().is_empty() {
            return Ok(Err(DbError::Invalid("empty statement".into())));
        }
        let rows: Vec<Vec<Value>> = rows
            .into_iter()
            .map(|row| row.into_iter().map(from_wit).collect())
            .collect();
        let result = self.session.batch(&sql, &rows).await;
        self.answer(result)
    }

    async fn open_cursor(
        &mut self,
        handle: Resource<ConnectionHandle>,
        sql: String,
        params: Vec<SqlValue>,
    ) -> wasmtime::Result<Result<Resource<CursorHandle>, DbError>> {
        self.check(&handle)?;
        if !self.session.gate.reads_only(&sql) {
            return Ok(Err(DbError::Invalid(
                "a cursor reads the rows of one query (SELECT, VALUES, WITH … SELECT); this \
                 statement is not one"
                    .into(),
            )));
        }
        let params: Vec<Value> = params.into_iter().map(from_wit).collect();
        let opened = self.session.open_cursor(&sql, &params).await;
        match self.answer(opened)? {
            Ok(cursor) => Ok(Ok(self.table.push(cursor)?)),
            Err(e) => Ok(Err(e)),
        }
    }

    async fn drop(&mut self, handle: Resource<ConnectionHandle>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}

impl HostCursor for StepState {
    async fn columns(&mut self, handle: Resource<CursorHandle>) -> wasmtime::Result<Vec<String>> {
        Ok(self.table.get(&handle)?.columns().to_vec())
    }

    async fn next(
        &mut self,
        handle: Resource<CursorHandle>,
        max: u32,
    ) -> wasmtime::Result<Result<Vec<Vec<SqlValue>>, DbError>> {
        if max == 0 {
            return Ok(Err(DbError::Invalid(
                "a page of 0 rows was asked for".into(),
            )));
        }
        let max = usize::try_from(max).unwrap_or(MAX_PAGE);
        let cursor = self.table.get_mut(&handle)?;
        let rows = self.session.fetch(cursor, max).await;
        Ok(self.answer(rows)?.map(|rows| {
            rows.into_iter()
                .map(|row| row.into_iter().map(to_wit).collect())
                .collect()
        }))
    }

    async fn drop(&mut self, handle: Resource<CursorHandle>) -> wasmtime::Result<()> {
        let cursor = self.table.delete(handle)?;
        self.session.close_cursor(cursor).await;
        Ok(())
    }
}

impl wit_log::Host for StepState {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let (module, step) = (&self.session.context.module, &self.session.context.step);
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
