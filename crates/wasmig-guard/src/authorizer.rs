//! SQLite's second layer: the same ownership rules, answered from inside the database engine
//! through its authorizer callback, so that a statement the parser misjudged is still refused.

use std::sync::{Arc, Mutex, MutexGuard};

use wasmig_db::{Authorizer, Request};

use crate::{Effect, Policy};

/// SQLite's own bookkeeping tables, which it reads and writes while running DDL.
const ENGINE_TABLES: &[&str] = &["sqlite_master", "sqlite_schema", "sqlite_sequence"];

/// The temp database's schema table, which `ALTER TABLE … RENAME` reads and rewrites (it
/// updates what temp triggers and views say about the table).
const TEMP_SCHEMA: &[&str] = &["sqlite_temp_master", "sqlite_temp_schema"];

/// A policy shared by the parser check (which updates it as statements succeed) and SQLite's
/// authorizer (which reads it while statements compile).
#[derive(Debug, Clone)]
pub struct SharedPolicy {
    policy: Arc<Mutex<Policy>>,
    statement: Arc<Mutex<Statement>>,
}

/// What the authorizer knows about the guest statement being compiled.
#[derive(Debug, Default)]
struct Statement {
    /// What the parser found it creates, drops or renames (so that the implicit objects of a
    /// table created by it, such as `sqlite_autoindex_<table>_1`, belong to the module too).
    effects: Vec<Effect>,
    /// True once SQLite asked to alter an owned table: the rewriting of the schema that
    /// follows (in `main` and `temp`) is SQLite's own work on the module's behalf.
    altering: bool,
}

impl SharedPolicy {
    /// Shares `policy`.
    pub fn new(policy: Policy) -> Self {
        SharedPolicy {
            policy: Arc::new(Mutex::new(policy)),
            statement: Arc::default(),
        }
    }

    /// The policy, for checking statements and recording their effects.
    pub fn lock(&self) -> MutexGuard<'_, Policy> {
        self.policy
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Tells the authorizer what the guest statement about to run creates, drops or renames,
    /// as the parser found.
    pub fn statement_starts(&self, effects: &[Effect]) {
        let mut statement = self.statement();
        statement.effects = effects.to_vec();
        statement.altering = false;
    }

    fn statement(&self) -> MutexGuard<'_, Statement> {
        self.statement
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Statement {
    /// True when the statement creates `table` (a key).
    fn creates(&self, table: &str) -> bool {
        self.effects.iter().any(|effect| match effect {
            Effect::Created { name, .. } | Effect::Renamed { to: name, .. } => name == table,
            _ => false,
        })
    }

    /// True when the statement is DDL the parser allowed (SQLite then rewrites its own tables).
    fn is_ddl(&self) -> bool {
        self.altering
            || self.effects.iter().any(|effect| {
                matches!(
                    effect,
                    Effect::Created { .. } | Effect::Dropped { .. } | Effect::Renamed { .. }
                )
            })
    }
}

impl Authorizer for SharedPolicy {
    fn allows(&self, request: &Request<'_>, database: Option<&str>) -> bool {
        let mut statement = self.statement();
        // Only the main database: no temp objects, nothing attached; the one exception is the
        // temp schema table that renaming an owned table rewrites.
        if database.is_some_and(|db| db != "main") {
            return database == Some("temp")
                && statement.altering
                && matches!(request, Request::Read { table } | Request::Write { table }
                    if TEMP_SCHEMA.contains(&table.to_lowercase().as_str()));
        }
        let policy = self.lock();
        let key = |name: &str| name.to_lowercase();
        let owned_or_new = |table: &str| policy.owns(&key(table)) || statement.creates(&key(table));
        match *request {
            Request::Read { table } => {
                let table = key(table);
                ENGINE_TABLES.contains(&table.as_str())
                    || policy.readable(&table)
                    // A name that is no object at all: a common table expression.
                    || policy.unknown(&table)
                    || table.strip_prefix("pragma_").is_some_and(|pragma| {
                        crate::rules::check_pragma_name(&[pragma.to_owned()]).is_ok()
                    })
            }
            Request::Write { table } => {
                let table = key(table);
                // SQLite refuses direct writes to its schema table by itself (writable_schema
                // stays off); its sequence table only DDL of the module's may touch.
                let engine = match table.as_str() {
                    "sqlite_sequence" => statement.is_ddl(),
                    other => ENGINE_TABLES.contains(&other),
                };
                engine || policy.writable(&table)
            }
            Request::Create {
                name,
                table,
                temporary,
            } => {
                let name = key(name);
                !temporary
                    && (policy.creatable(&name) || (statement.is_ddl() && is_implicit(&name)))
                    && table.is_none_or(owned_or_new)
            }
            Request::Drop {
                name,
                table,
                temporary,
            } => {
                !temporary
                    && (policy.owns(&key(name))
                        || (is_implicit(&key(name)) && table.is_some_and(owned_or_new)))
            }
            Request::Alter { table } => {
                let allowed = policy.owns(&key(table));
                statement.altering |= allowed;
                allowed
            }
            Request::Reindex { index } => {
                let index = key(index);
                policy.owns(&index) || policy.creatable(&index) || is_implicit(&index)
            }
            Request::Pragma { name } => {
                // `ALTER TABLE … ADD COLUMN … CHECK (…)` makes SQLite verify the table itself.
                (statement.altering && key(name) == "quick_check")
                    || crate::rules::check_pragma_name(&[name.to_owned()]).is_ok()
            }
            Request::Function { name } => {
                let name = key(name);
                crate::functions::is_allowed(wasmig_db::Dialect::Sqlite, &name)
                    || crate::functions::is_sqlite_internal(&name)
            }
            Request::Select => true,
            Request::Other { .. } => false,
        }
    }
}

/// Objects SQLite creates by itself for a table: the index behind a UNIQUE or non-integer
/// PRIMARY KEY (`sqlite_autoindex_<table>_<n>`) and the counters of AUTOINCREMENT columns.
fn is_implicit(name: &str) -> bool {
    name.starts_with("sqlite_autoindex_") || name == "sqlite_sequence"
}
