//! The host side of the `wasmig:migration` world: the store's state and the imports it serves.

use wasmig_db::{Dialect, Transaction, Value};
use wasmtime::component::{HasSelf, Linker, Resource, ResourceTable, ResourceTableError};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::StepContext;
use crate::sandbox::MemoryLimiter;

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
    pub(crate) statements: u64,
}

impl StepState {
    pub(crate) fn new(
        transaction: Transaction,
        wasi: WasiCtx,
        limiter: MemoryLimiter,
        context: StepContext,
    ) -> Self {
        StepState {
            table: ResourceTable::new(),
            wasi,
            limiter,
            transaction,
            context,
            statements: 0,
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

    /// Counts and traces a statement the guest sends; refuses an empty one.
    fn admit(&mut self, kind: &'static str, sql: &str) -> Result<(), DbError> {
        if sql.trim().is_empty() {
            return Err(DbError::Invalid("empty statement".into()));
        }
        self.statements += 1;
        tracing::debug!(module = %self.context.module, step = %self.context.step, kind, sql);
        Ok(())
    }

    async fn execute_one(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        self.admit("execute", sql)?;
        self.transaction
            .execute(sql, params)
            .await
            .map_err(|e| DbError::Database(e.to_string()))
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
        Ok(self.execute_one(&sql, &params).await)
    }

    async fn query(
        &mut self,
        handle: Resource<ConnectionHandle>,
        sql: String,
        params: Vec<SqlValue>,
    ) -> wasmtime::Result<Result<RowSet, DbError>> {
        self.check(&handle)?;
        if let Err(e) = self.admit("query", &sql) {
            return Ok(Err(e));
        }
        let params: Vec<Value> = params.into_iter().map(from_wit).collect();
        Ok(self
            .transaction
            .query(&sql, &params)
            .await
            .map(|set| RowSet {
                columns: set.columns,
                rows: set
                    .rows
                    .into_iter()
                    .map(|row| row.into_iter().map(to_wit).collect())
                    .collect(),
            })
            .map_err(|e| DbError::Database(e.to_string())))
    }

    async fn execute_batch(
        &mut self,
        handle: Resource<ConnectionHandle>,
        sql: String,
        rows: Vec<Vec<SqlValue>>,
    ) -> wasmtime::Result<Result<u64, DbError>> {
        self.check(&handle)?;
        let mut affected = 0;
        for row in rows {
            let params: Vec<Value> = row.into_iter().map(from_wit).collect();
            match self.execute_one(&sql, &params).await {
                Ok(n) => affected += n,
                Err(e) => return Ok(Err(e)),
            }
        }
        Ok(Ok(affected))
    }

    async fn drop(&mut self, handle: Resource<ConnectionHandle>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
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
