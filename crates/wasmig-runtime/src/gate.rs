//! The hook through which the engine's policy sees every statement a guest sends.

use std::sync::Arc;

use wasmig_db::{Authorizer, Denial, Transaction, Value};

use crate::journal::{BoxFuture, Journal, NoJournal};

/// A statement as a guest sends it, before the policy has seen it.
#[derive(Debug, Clone, Copy)]
pub struct GuestStatement<'a> {
    /// Its text.
    pub sql: &'a str,
    /// The values bound to its placeholders.
    pub params: &'a [Value],
    /// True when the guest allows it to fail (`execute-tolerant`, `-- wasmig:tolerant`).
    pub tolerant: bool,
    /// For the host's multi-row form of a batch ([`Gate::multi_row`]): the single-row
    /// statement the guest sent, whose verdict it takes. `None` for what the guest sent
    /// itself, which is judged by its own text.
    pub repeats: Option<&'a str>,
}

/// How a statement the gate let through is run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Route {
    /// As the guest's: under the module's confinement, checked by the database's own layer.
    #[default]
    Guest,
    /// It changes a session setting the step may change for itself (MySQL
    /// `FOREIGN_KEY_CHECKS`, PostgreSQL `SET LOCAL lock_timeout`, SQLite `PRAGMA
    /// foreign_keys`): it runs again on a replay (a setting does not outlive the session),
    /// commits nothing, and the host puts the setting back when the step ends.
    Setting,
    /// As the host's own statement (an extension the operator allows).
    Host,
    /// Not as written: these statements run instead, as the guest's (a PostgreSQL `DO` block
    /// becomes a confined function that is called and dropped).
    Instead(Vec<String>),
    /// Not as written: this statement runs instead, as the guest's, with the same parameters
    /// and returning its rows (a query of the schema catalog, limited to the module's
    /// objects).
    Rewritten(String),
}

/// Why the host could not record what a statement did (a ledger or privilege write failed).
pub type HostFailure = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The engine's side of the SQL policy.
pub trait Gate: Send {
    /// Decides about a statement before it runs: how to run it, or (`Err`) why it is denied.
    fn check(&mut self, statement: &GuestStatement<'_>) -> Result<Route, Denial>;

    /// The names of the objects the statement last checked creates, drops, renames or
    /// alters (a journal fingerprints them).
    fn touched(&self) -> Vec<String>;

    /// Called before the statement last checked runs, when it will commit the transaction by
    /// itself (MySQL DDL): what it creates is recorded first, so that the record commits with
    /// it.
    fn claim<'a>(
        &'a mut self,
        transaction: &'a mut Transaction,
    ) -> BoxFuture<'a, Result<(), HostFailure>>;

    /// Called after the statement last checked succeeded, inside the step's transaction
    /// (where the engine records what the statement created, renamed or dropped); `None`
    /// when there is nothing to record (most statements: no future is made for them).
    fn ran<'a>(
        &'a mut self,
        transaction: &'a mut Transaction,
    ) -> Option<BoxFuture<'a, Result<(), HostFailure>>>;

    /// The database-side check to install for the step (SQLite's authorizer), if any.
    fn authorizer(&self) -> Option<Arc<dyn Authorizer>>;

    /// True when `sql` is one query that only reads, which a cursor may run (the database
    /// checks again where it can). The default says no: a gate that does not read SQL lets
    /// no cursor open.
    fn reads_only(&self, sql: &str) -> bool {
        let _ = sql;
        false
    }

    /// For a batch of `sql` (checked, and to run as the guest's): the statement that runs it
    /// for `rows` rows at once, their parameters one row after another, and the parameters
    /// per row; `None` when it must run row by row (the default). With `named`, the
    /// parameters are written as the session variables a MariaDB/MySQL module account reads
    /// ([`wasmig_db::mysql_guest_variable`]) instead of placeholders. The statement is
    /// checked with [`GuestStatement::repeats`] naming `sql`.
    fn multi_row(&mut self, sql: &str, rows: usize, named: bool) -> Option<(String, usize)> {
        let _ = (sql, rows, named);
        None
    }
}

/// No policy: every statement is let through (tests and benchmarks of the runtime alone).
#[derive(Debug, Default, Clone, Copy)]
pub struct OpenGate;

impl Gate for OpenGate {
    fn check(&mut self, _: &GuestStatement<'_>) -> Result<Route, Denial> {
        Ok(Route::Guest)
    }

    fn touched(&self) -> Vec<String> {
        Vec::new()
    }

    fn claim<'a>(&'a mut self, _: &'a mut Transaction) -> BoxFuture<'a, Result<(), HostFailure>> {
        Box::pin(async { Ok(()) })
    }

    fn ran<'a>(
        &'a mut self,
        _: &'a mut Transaction,
    ) -> Option<BoxFuture<'a, Result<(), HostFailure>>> {
        None
    }

    fn authorizer(&self) -> Option<Arc<dyn Authorizer>> {
        None
    }

    /// No policy: the database alone decides what a cursor may run.
    fn reads_only(&self, _: &str) -> bool {
        true
    }
}

/// What the engine plugs into a step: its statement journal and its policy.
pub struct Hooks {
    /// Journals statements as they commit and answers replays.
    pub journal: Box<dyn Journal>,
    /// Checks statements before they run.
    pub gate: Box<dyn Gate>,
    /// True for a step that declared itself non-transactional: every statement commits by
    /// itself, with its journal entry.
    pub each_statement_commits: bool,
}

impl Default for Hooks {
    fn default() -> Self {
        Hooks {
            journal: Box::new(NoJournal),
            gate: Box::new(OpenGate),
            each_statement_commits: false,
        }
    }
}
