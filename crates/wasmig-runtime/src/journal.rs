//! The hook through which the engine journals a step's statements as they commit, and replays
//! a step whose first statements already committed (MySQL, where DDL commits implicitly).

use std::future::Future;
use std::pin::Pin;

use sha2::{Digest, Sha256};
use wasmig_db::{RowSet, Value};

/// One statement a guest sent, identified by its text and parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// Its position in the step, from 0 (each row of a batch counts once).
    pub position: u32,
    /// The sha256 of the text and the parameters, hex.
    pub sha256: String,
    /// The text.
    pub sql: String,
    /// The rows it affected (0 for a query).
    pub rows_affected: u64,
    /// What a query returned, kept where statements are journaled so that a replay answers
    /// the query as it was answered then.
    pub rows: Option<RowSet>,
}

impl Statement {
    pub(crate) fn new(position: u32, sql: &str, params: &[Value]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(sql.as_bytes());
        hasher.update([0]);
        hasher.update(format!("{params:?}").as_bytes());
        let sha256 = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Statement {
            position,
            sha256,
            sql: sql.to_owned(),
            rows_affected: 0,
            rows: None,
        }
    }
}

/// What to do with a statement before it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    /// Run it.
    Run,
    /// It already ran in an earlier run and what it did committed: do not run it again,
    /// answer as it was answered then.
    Replay {
        /// The rows it affected then.
        rows_affected: u64,
        /// What it returned then, for a query.
        rows: Option<RowSet>,
    },
}

/// A boxed future, as the journal's asynchronous hook returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The engine's side of statement journaling.
pub trait Journal: Send {
    /// Decides about `statement` before it runs; `Err` (the replay diverged) stops the step.
    fn admit(&mut self, statement: &Statement) -> Result<Admission, String>;

    /// Records `statements` durably: everything up to the last of them has just committed.
    fn committed<'a>(
        &'a mut self,
        statements: &'a [Statement],
    ) -> BoxFuture<'a, Result<(), String>>;
}

/// No journal: every statement runs, nothing is recorded (databases with transactional DDL).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoJournal;

impl Journal for NoJournal {
    fn admit(&mut self, _: &Statement) -> Result<Admission, String> {
        Ok(Admission::Run)
    }

    fn committed<'a>(&'a mut self, _: &'a [Statement]) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
}
