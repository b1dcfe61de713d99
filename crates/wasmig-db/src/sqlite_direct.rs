//! SQLite: guest statements run on the connection's own handle, on the calling thread, with
//! their prepared statements kept for the step.
//!
//! sqlx runs SQLite on a worker thread: every statement pays two thread hand-offs, which cost
//! far more than SQLite itself takes for a row. A guest's statements go to the handle
//! directly instead (the connection is held by the step, so nothing else uses it meanwhile).
//! SQLite's authorizer sees each statement when it is prepared, and again whenever SQLite
//! prepares it anew after a schema change. Data statements (`SELECT`, `INSERT`, `UPDATE`,
//! `DELETE`, `WITH`, `REPLACE`) are kept prepared; any other statement (DDL, which changes
//! what the module owns) is prepared for one run and empties the cache after it. The step's
//! deadline reaches SQLite as a progress handler that interrupts a statement running past it.

use std::collections::HashMap;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::time::Instant;

use libsqlite3_sys as ffi;

use crate::deadline::RawSqlite;
use crate::{Budget, Error, Result, RowSet, Value};

/// Statements kept prepared at most (the oldest are not evicted: past this, new ones run
/// uncached).
const MAX_CACHED: usize = 256;
/// SQLite virtual-machine steps between two looks at the clock.
const PROGRESS_STEPS: c_int = 1000;

/// The prepared statements of one step on one connection.
#[derive(Debug, Default)]
pub(crate) struct StatementCache {
    statements: HashMap<String, Statement>,
}

/// A prepared statement, finalized on drop.
#[derive(Debug)]
struct Statement(*mut ffi::sqlite3_stmt);

// SAFETY: a statement is used only by the transaction that holds its connection, one call at a
// time, and never while sqlx's worker runs a statement on that connection (a connection whose
// sqlx call was abandoned is not used again: see `Transaction::begin_call`).
unsafe impl Send for Statement {}
// SAFETY: as for `Send`.
unsafe impl Sync for Statement {}

impl Drop for Statement {
    fn drop(&mut self) {
        // SAFETY: the statement was prepared on a connection that is still open (the cache
        // is emptied before the connection goes back to the pool).
        unsafe { ffi::sqlite3_finalize(self.0) };
    }
}

/// What one run of a statement returns.
enum Output<'b> {
    /// Rows affected.
    Changes,
    /// Rows, charged to the budget when there is one.
    Rows(Option<&'b mut Budget>),
}

impl StatementCache {
    /// Forgets every prepared statement.
    pub(crate) fn clear(&mut self) {
        self.statements.clear();
    }

    /// Runs `sql` with `params`; returns the rows it affected.
    pub(crate) fn execute(
        &mut self,
        raw: RawSqlite,
        sql: &str,
        params: &[Value],
        deadline: Option<Instant>,
    ) -> Result<u64> {
        let mut rows = RowSet::default();
        self.run(raw, sql, params, deadline, Output::Changes, &mut rows)?;
        // SAFETY: an open connection.
        Ok(unsafe { ffi::sqlite3_changes64(raw.0) }
            .try_into()
            .unwrap_or(0))
    }

    /// Runs the query `sql` with `params`; returns its columns and rows.
    pub(crate) fn query(
        &mut self,
        raw: RawSqlite,
        sql: &str,
        params: &[Value],
        deadline: Option<Instant>,
        budget: Option<&mut Budget>,
    ) -> Result<RowSet> {
        let mut rows = RowSet::default();
        self.run(raw, sql, params, deadline, Output::Rows(budget), &mut rows)?;
        Ok(rows)
    }

    fn run(
        &mut self,
        raw: RawSqlite,
        sql: &str,
        params: &[Value],
        deadline: Option<Instant>,
        output: Output<'_>,
        rows: &mut RowSet,
    ) -> Result<()> {
        let _progress = Progress::install(raw, deadline);
        if let Some(statement) = self.statements.get(sql) {
            return run_prepared(raw, statement, params, output, rows);
        }
        // Only comments: nothing to run.
        let Some(statement) = prepare(raw, sql)? else {
            return Ok(());
        };
        let result = run_prepared(raw, &statement, params, output, rows);
        if !is_data_statement(sql) {
            // DDL, a setting, a savepoint: what the module owns may have changed.
            self.statements.clear();
        } else if self.statements.len() < MAX_CACHED {
            self.statements.insert(sql.to_owned(), statement);
        }
        result
    }
}

/// A query stepped a page at a time (a guest's cursor): its own prepared statement, never
/// one of the cache's, finalized on drop.
#[derive(Debug)]
pub(crate) struct Scan {
    statement: Statement,
    columns: Vec<String>,
    done: bool,
}

impl Scan {
    /// Prepares and binds the query `sql`; SQLite refuses a statement that writes.
    pub(crate) fn open(raw: RawSqlite, sql: &str, params: &[Value]) -> Result<Scan> {
        let statement = prepare(raw, sql)?.ok_or_else(|| Error::Statement {
            message: "the cursor's text holds no statement".into(),
            code: None,
        })?;
        // SAFETY: a prepared statement of an open connection.
        if unsafe { ffi::sqlite3_stmt_readonly(statement.0) } == 0 {
            return Err(Error::Statement {
                message: "a cursor reads the rows of a query; SQLite says this statement writes"
                    .into(),
                code: None,
            });
        }
        bind(raw, &statement, params)?;
        // SAFETY: as above.
        let columns = unsafe {
            (0..ffi::sqlite3_column_count(statement.0))
                .map(|i| text_of(ffi::sqlite3_column_name(statement.0, i)))
                .collect()
        };
        Ok(Scan {
            statement,
            columns,
            done: false,
        })
    }

    /// The names of the query's columns.
    pub(crate) fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The next rows, at most `max`, charged to `budget`; none once the query is done.
    pub(crate) fn next(
        &mut self,
        raw: RawSqlite,
        max: usize,
        deadline: Option<Instant>,
        budget: &mut Budget,
    ) -> Result<Vec<Vec<Value>>> {
        let _progress = Progress::install(raw, deadline);
        let mut rows = Vec::new();
        let columns = c_int::try_from(self.columns.len()).unwrap_or(c_int::MAX);
        while !self.done && rows.len() < max {
            // SAFETY: a prepared statement of an open connection; `column` is called only
            // after SQLITE_ROW.
            match unsafe { ffi::sqlite3_step(self.statement.0) } {
                ffi::SQLITE_DONE => self.done = true,
                ffi::SQLITE_ROW => {
                    let row: Vec<Value> = (0..columns)
                        // SAFETY: the statement just returned SQLITE_ROW.
                        .map(|i| unsafe { column(&self.statement, i) })
                        .collect();
                    budget.spend(&row)?;
                    rows.push(row);
                }
                rc => {
                    self.done = true;
                    return Err(error(raw, rc));
                }
            }
        }
        Ok(rows)
    }
}

/// True for statements that only read or change rows.
fn is_data_statement(sql: &str) -> bool {
    let first = sql
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or_default();
    ["SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "REPLACE"]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(first))
}

/// Prepares the one statement `sql` holds; `None` when it holds none (only comments).
/// Refuses text that holds a second statement after the first.
fn prepare(raw: RawSqlite, sql: &str) -> Result<Option<Statement>> {
    // SQLite stops reading at a NUL: what follows one would be checked by the policy but
    // never seen by the database (and an empty remainder would never shrink).
    if sql.contains('\0') {
        return Err(Error::Denied(
            "a statement may not hold a NUL character".into(),
        ));
    }
    let (first, tail) = prepare_one(raw, sql.as_bytes())?;
    let Some(first) = first else {
        return Ok(None);
    };
    let mut rest = tail;
    while !rest.is_empty() {
        let (next, tail) = prepare_one(raw, rest)?;
        if next.is_some() {
            return Err(Error::Denied(
                "a call runs one statement; this text holds several".into(),
            ));
        }
        if tail.len() >= rest.len() {
            // Nothing more SQLite would read.
            break;
        }
        rest = tail;
    }
    Ok(Some(first))
}

/// Prepares the first statement of `sql`; returns it (if any) and the text after it.
fn prepare_one(raw: RawSqlite, sql: &[u8]) -> Result<(Option<Statement>, &[u8])> {
    let mut statement = std::ptr::null_mut();
    let mut tail: *const c_char = std::ptr::null();
    let length = c_int::try_from(sql.len())
        .map_err(|_| Error::Quota("a statement longer than SQLite accepts".into()))?;
    // SAFETY: an open connection; `sql` is valid for `length` bytes (SQLite reads no further
    // than that) and outlives the call; the out-pointers are valid.
    let rc = unsafe {
        ffi::sqlite3_prepare_v2(
            raw.0,
            sql.as_ptr().cast(),
            length,
            &mut statement,
            &mut tail,
        )
    };
    if rc != ffi::SQLITE_OK {
        return Err(error(raw, rc));
    }
    let used = if tail.is_null() {
        sql.len()
    } else {
        (tail as usize).saturating_sub(sql.as_ptr() as usize)
    };
    let statement = (!statement.is_null()).then_some(Statement(statement));
    Ok((statement, &sql[used.min(sql.len())..]))
}

/// Binds `params`, steps the statement to its end and collects what `output` asks for.
fn run_prepared(
    raw: RawSqlite,
    statement: &Statement,
    params: &[Value],
    mut output: Output<'_>,
    rows: &mut RowSet,
) -> Result<()> {
    /// Resets the statement for its next run however this one ends.
    struct Reset<'s>(&'s Statement);
    impl Drop for Reset<'_> {
        fn drop(&mut self) {
            // SAFETY: a prepared statement of an open connection.
            unsafe {
                ffi::sqlite3_reset(self.0.0);
                ffi::sqlite3_clear_bindings(self.0.0);
            }
        }
    }
    let _reset = Reset(statement);
    bind(raw, statement, params)?;
    // SAFETY: a prepared statement of an open connection, for every call below.
    unsafe {
        let columns = ffi::sqlite3_column_count(statement.0);
        if let Output::Rows(_) = output {
            rows.columns = (0..columns)
                .map(|i| text_of(ffi::sqlite3_column_name(statement.0, i)))
                .collect();
        }
        loop {
            match ffi::sqlite3_step(statement.0) {
                ffi::SQLITE_DONE => return Ok(()),
                ffi::SQLITE_ROW => {
                    if let Output::Rows(budget) = &mut output {
                        let row: Vec<Value> = (0..columns).map(|i| column(statement, i)).collect();
                        if let Some(budget) = budget.as_deref_mut() {
                            budget.spend(&row)?;
                        }
                        rows.rows.push(row);
                    }
                }
                rc => return Err(error(raw, rc)),
            }
        }
    }
}

/// Binds `params` to the statement's placeholders, refusing a count that does not match.
fn bind(raw: RawSqlite, statement: &Statement, params: &[Value]) -> Result<()> {
    // SAFETY: a prepared statement of an open connection; text and blobs are copied by
    // SQLite (`SQLITE_TRANSIENT`) before each call returns.
    unsafe {
        let expected = ffi::sqlite3_bind_parameter_count(statement.0);
        if usize::try_from(expected).ok() != Some(params.len()) {
            return Err(Error::Statement {
                message: format!(
                    "the statement has {expected} placeholders but {} parameters were given",
                    params.len()
                ),
                code: None,
            });
        }
        for (i, value) in params.iter().enumerate() {
            let index = c_int::try_from(i + 1).unwrap_or(c_int::MAX);
            let rc = match value {
                Value::Null => ffi::sqlite3_bind_null(statement.0, index),
                Value::Integer(v) => ffi::sqlite3_bind_int64(statement.0, index, *v),
                Value::Real(v) => ffi::sqlite3_bind_double(statement.0, index, *v),
                Value::Text(v) => ffi::sqlite3_bind_text64(
                    statement.0,
                    index,
                    v.as_ptr().cast(),
                    v.len() as u64,
                    ffi::SQLITE_TRANSIENT(),
                    ffi::SQLITE_UTF8 as u8,
                ),
                Value::Blob(v) => ffi::sqlite3_bind_blob64(
                    statement.0,
                    index,
                    v.as_ptr().cast::<c_void>(),
                    v.len() as u64,
                    ffi::SQLITE_TRANSIENT(),
                ),
            };
            if rc != ffi::SQLITE_OK {
                return Err(error(raw, rc));
            }
        }
    }
    Ok(())
}

/// Column `i` of the current row, by its value's storage class.
///
/// # Safety
/// The statement must have just returned `SQLITE_ROW`.
unsafe fn column(statement: &Statement, i: c_int) -> Value {
    // SAFETY: the caller's promise; the pointers SQLite returns stay valid until the next
    // step, and the bytes are copied before that.
    unsafe {
        match ffi::sqlite3_column_type(statement.0, i) {
            ffi::SQLITE_INTEGER => Value::Integer(ffi::sqlite3_column_int64(statement.0, i)),
            ffi::SQLITE_FLOAT => Value::Real(ffi::sqlite3_column_double(statement.0, i)),
            ffi::SQLITE_NULL => Value::Null,
            ffi::SQLITE_BLOB => {
                let data = ffi::sqlite3_column_blob(statement.0, i).cast::<u8>();
                let len = usize::try_from(ffi::sqlite3_column_bytes(statement.0, i)).unwrap_or(0);
                Value::Blob(if data.is_null() {
                    Vec::new()
                } else {
                    std::slice::from_raw_parts(data, len).to_vec()
                })
            }
            _ => {
                let data = ffi::sqlite3_column_text(statement.0, i);
                let len = usize::try_from(ffi::sqlite3_column_bytes(statement.0, i)).unwrap_or(0);
                Value::Text(if data.is_null() {
                    String::new()
                } else {
                    String::from_utf8_lossy(std::slice::from_raw_parts(data, len)).into_owned()
                })
            }
        }
    }
}

/// A C string SQLite owns, copied.
///
/// # Safety
/// `text` must be null or a NUL-terminated string.
unsafe fn text_of(text: *const c_char) -> String {
    if text.is_null() {
        return String::new();
    }
    // SAFETY: the caller's promise.
    unsafe { CStr::from_ptr(text) }
        .to_string_lossy()
        .into_owned()
}

/// The connection's error for result code `rc`: a refusal of the authorizer as
/// [`Error::Denied`], anything else with SQLite's message and extended code.
/// Runs the host's own SQL text (transaction control: one or more statements, no
/// parameters, no rows wanted) on the handle.
pub(crate) fn exec(raw: RawSqlite, sql: &str) -> Result<()> {
    let text = std::ffi::CString::new(sql)
        .map_err(|_| Error::Denied("a statement may not hold a NUL character".into()))?;
    // SAFETY: an open connection held by the caller; the text is NUL-terminated.
    let rc = unsafe {
        ffi::sqlite3_exec(
            raw.0,
            text.as_ptr(),
            None,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(error(raw, rc))
    }
}

fn error(raw: RawSqlite, rc: c_int) -> Error {
    // SAFETY: an open connection; the message is copied at once.
    let (message, code) = unsafe {
        (
            text_of(ffi::sqlite3_errmsg(raw.0)),
            ffi::sqlite3_extended_errcode(raw.0),
        )
    };
    if rc == ffi::SQLITE_AUTH || message.starts_with("not authorized") {
        return Error::Denied(message);
    }
    Error::Statement {
        message,
        code: Some(code.to_string()),
    }
}

/// The progress handler that interrupts a statement at the step's deadline, removed on drop.
struct Progress {
    raw: RawSqlite,
    /// Boxed, so that the handler's pointer stays valid while it is installed.
    deadline: Option<Box<Instant>>,
}

impl Progress {
    fn install(raw: RawSqlite, deadline: Option<Instant>) -> Self {
        let deadline = deadline.map(Box::new);
        if let Some(deadline) = &deadline {
            let argument = std::ptr::from_ref::<Instant>(deadline)
                .cast_mut()
                .cast::<c_void>();
            // SAFETY: an open connection; `argument` points at the boxed deadline, which
            // lives until the handler is removed in `drop`.
            unsafe {
                ffi::sqlite3_progress_handler(raw.0, PROGRESS_STEPS, Some(past_deadline), argument);
            }
        }
        Progress { raw, deadline }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if self.deadline.is_some() {
            // SAFETY: an open connection; removing the handler before the box it points at.
            unsafe { ffi::sqlite3_progress_handler(self.raw.0, 0, None, std::ptr::null_mut()) };
        }
    }
}

/// SQLite's progress callback: non-zero (interrupt) once the deadline has passed.
unsafe extern "C" fn past_deadline(deadline: *mut c_void) -> c_int {
    // SAFETY: installed with a pointer to an `Instant` that outlives the handler.
    let deadline = unsafe { &*deadline.cast::<Instant>() };
    c_int::from(Instant::now() >= *deadline)
}

#[cfg(test)]
mod tests {
    use super::is_data_statement;

    #[test]
    fn only_row_statements_are_kept_prepared() {
        for sql in [
            "SELECT 1",
            "  insert into t values (1)",
            "UPDATE t SET a = 1",
            "WITH x AS (SELECT 1) SELECT * FROM x",
        ] {
            assert!(is_data_statement(sql), "{sql}");
        }
        for sql in [
            "CREATE TABLE t (a)",
            "DROP TABLE t",
            "ALTER TABLE t RENAME TO u",
            "SAVEPOINT s",
            "PRAGMA foreign_keys = OFF",
            "-- SELECT\nDROP TABLE t",
        ] {
            assert!(!is_data_statement(sql), "{sql}");
        }
    }
}
