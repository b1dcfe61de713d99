//! SQLite's second layer: the same ownership rules, answered from inside the database engine
//! through its authorizer callback, so that a statement the parser misjudged is still refused.

use std::sync::{Arc, Mutex, MutexGuard};

use wasmig_db::{Authorizer, Request};

use crate::Policy;

/// SQLite's own bookkeeping tables, which it writes while running DDL.
const ENGINE_TABLES: &[&str] = &["sqlite_master", "sqlite_schema", "sqlite_sequence"];

/// A policy shared by the parser check (which updates it as statements succeed) and SQLite's
/// authorizer (which reads it while statements compile).
#[derive(Debug, Clone)]
pub struct SharedPolicy(Arc<Mutex<Policy>>);

impl SharedPolicy {
    /// Shares `policy`.
    pub fn new(policy: Policy) -> Self {
        SharedPolicy(Arc::new(Mutex::new(policy)))
    }

    /// The policy, for checking statements and recording their effects.
    pub fn lock(&self) -> MutexGuard<'_, Policy> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Authorizer for SharedPolicy {
    fn allows(&self, request: &Request<'_>, database: Option<&str>) -> bool {
        // Only the main database: no temp objects, nothing attached.
        if database.is_some_and(|db| db != "main") {
            return false;
        }
        let policy = self.lock();
        let key = |name: &str| name.to_lowercase();
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
                ENGINE_TABLES.contains(&key(table).as_str()) || policy.writable(&key(table))
            }
            Request::Create {
                name,
                table,
                temporary,
            } => {
                !temporary
                    && policy.creatable(&key(name))
                    && table.is_none_or(|t| policy.owns(&key(t)))
            }
            Request::Drop {
                name, temporary, ..
            } => !temporary && policy.owns(&key(name)),
            Request::Alter { table } => policy.owns(&key(table)),
            Request::Reindex { index } => policy.owns(&key(index)) || policy.creatable(&key(index)),
            Request::Pragma { name } => crate::rules::check_pragma_name(&[name.to_owned()]).is_ok(),
            Request::Function { name } => {
                crate::rules::denied_function(wasmig_db::Dialect::Sqlite, &key(name)).is_none()
            }
            Request::Select => true,
            Request::Other { .. } => false,
        }
    }
}
