//! The hook through which the engine journals a step's statements as they commit, and replays
//! a step whose first statements already committed (MySQL, where DDL commits implicitly, and
//! steps that declare themselves non-transactional).
//!
//! Journal entries are written on the step's own connection, in the transaction whose commit
//! makes the statements they describe durable. A statement that commits by itself (DDL on
//! MySQL, `CREATE INDEX CONCURRENTLY`) is written first as an *intent* carrying a fingerprint
//! of the objects it touches; a replay that finds an intent reads the catalog again to tell
//! whether the statement took effect.

use std::future::Future;
use std::pin::Pin;

use sha2::{Digest, Sha256};
use wasmig_db::{Intent, RowSet, Transaction, Value};

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
    /// Set while the statement is about to commit by itself: what it touches, and their
    /// fingerprint before it ran.
    pub intent: Option<Intent>,
}

impl Statement {
    /// A statement nobody journals: its digest is never computed, nor its text copied (one
    /// allocation per row of a data step less).
    pub(crate) fn untracked(position: u32) -> Self {
        Statement {
            position,
            sha256: String::new(),
            sql: String::new(),
            rows_affected: 0,
            rows: None,
            intent: None,
        }
    }

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
            intent: None,
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
    /// An earlier run was about to run it, or was running it, when it stopped: it took
    /// effect when the objects it touches no longer match their fingerprint.
    InFlight(Intent),
}

/// A boxed future, as the journal's asynchronous hooks return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The engine's side of statement journaling.
pub trait Journal: Send {
    /// True when the step's statements are journaled (it commits in pieces).
    fn is_active(&self) -> bool;

    /// Decides about `statement` before it runs; `Err` (the replay diverged) stops the step.
    fn admit(&mut self, statement: &Statement) -> Result<Admission, String>;

    /// Writes `statements` inside `transaction`, so that they commit with what they describe
    /// (the last may be an intent).
    fn write<'a>(
        &'a mut self,
        transaction: &'a mut Transaction,
        statements: &'a [Statement],
    ) -> BoxFuture<'a, Result<(), String>>;

    /// Settles the intent at `position` inside `transaction`: its statement took effect
    /// (`Some(rows_affected)`) or did not (`None`).
    fn settle<'a>(
        &'a mut self,
        transaction: &'a mut Transaction,
        position: u32,
        rows_affected: Option<u64>,
    ) -> BoxFuture<'a, Result<(), String>>;
}

/// No journal: every statement runs, nothing is recorded (a step that is one transaction on
/// a database with transactional DDL).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoJournal;

impl Journal for NoJournal {
    fn is_active(&self) -> bool {
        false
    }

    fn admit(&mut self, _: &Statement) -> Result<Admission, String> {
        Ok(Admission::Run)
    }

    fn write<'a>(
        &'a mut self,
        _: &'a mut Transaction,
        _: &'a [Statement],
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }

    fn settle<'a>(
        &'a mut self,
        _: &'a mut Transaction,
        _: u32,
        _: Option<u64>,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
}
