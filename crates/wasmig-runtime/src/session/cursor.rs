//! A step's cursors: a guest's query read a page at a time.

use std::collections::VecDeque;

use wasmig_db::{CursorId, Dialect, Value};

use super::{DbFailure, Mode, Output, Session, Stopped};
use crate::Error;
use crate::gate::{GuestStatement, Route};

/// The most rows one page holds, whatever the guest asks for.
pub(crate) const MAX_PAGE: usize = 10_000;

/// An open cursor, held by the guest's resource.
pub struct CursorHandle {
    columns: Vec<String>,
    rows: Paged,
}

enum Paged {
    /// Read from the database a page at a time (SQLite, PostgreSQL).
    Database(CursorId),
    /// Read whole where the step's statements are journaled (MariaDB/MySQL, a
    /// non-transactional step): a replay answers it from the journal like any query.
    Held(VecDeque<Vec<Value>>),
}

impl CursorHandle {
    /// The names of the query's columns.
    pub(crate) fn columns(&self) -> &[String] {
        &self.columns
    }
}

impl Session {
    /// Opens a cursor over the query `sql` (which the caller made sure only reads): through
    /// the policy and the limits like any statement; its rows count against the budget as
    /// they are read.
    pub(crate) async fn open_cursor(
        &mut self,
        sql: &str,
        params: &[Value],
    ) -> Result<Result<CursorHandle, DbFailure>, Stopped> {
        if self.journal.is_active()
            || !self.transaction.is_open()
            || self.transaction.dialect() == Dialect::MySql
        {
            let output = self.statement(Mode::Query, sql, params).await?;
            return Ok(output.map(|output| match output {
                Output::Rows(set) => CursorHandle {
                    columns: set.columns,
                    rows: Paged::Held(set.rows.into()),
                },
                Output::Affected(_) => CursorHandle {
                    columns: Vec::new(),
                    rows: Paged::Held(VecDeque::new()),
                },
            }));
        }
        self.count_statements(sql, 1)?;
        tracing::debug!(module = %self.context.module, step = %self.context.step, sql, "cursor");
        let request = GuestStatement {
            sql,
            params,
            tolerant: false,
            repeats: None,
        };
        let route = match self.gate.check(&request) {
            Ok(route) => route,
            Err(reason) => return Err(self.stop(Error::Denied(reason))),
        };
        let text = match &route {
            Route::Guest => sql,
            Route::Rewritten(confined) => confined.as_str(),
            _ => {
                return Ok(Err(DbFailure::Statement {
                    message: "a cursor reads the rows of a query; the host runs this statement \
                              another way"
                        .into(),
                    code: None,
                }));
            }
        };
        let mut guest = self.transaction.as_guest();
        let opened = guest.open_cursor(text, params, &mut self.budget).await;
        drop(guest);
        let opened = self.verdict(text, opened)?;
        self.after_guest_statement(opened.is_ok()).await?;
        Ok(opened.map(|(id, columns)| CursorHandle {
            columns,
            rows: Paged::Database(id),
        }))
    }

    /// The next rows of `cursor`, at most `max` (at most [`MAX_PAGE`]).
    pub(crate) async fn fetch(
        &mut self,
        cursor: &mut CursorHandle,
        max: usize,
    ) -> Result<Result<Vec<Vec<Value>>, DbFailure>, Stopped> {
        let max = max.min(MAX_PAGE);
        match &mut cursor.rows {
            Paged::Held(rows) => Ok(Ok(rows.drain(..max.min(rows.len())).collect())),
            Paged::Database(id) => {
                let mut guest = self.transaction.as_guest();
                let rows = guest.fetch(*id, max, &mut self.budget).await;
                drop(guest);
                self.verdict("FETCH", rows)
            }
        }
    }

    /// Closes `cursor` (the guest dropped it).
    pub(crate) async fn close_cursor(&mut self, cursor: CursorHandle) {
        if let Paged::Database(id) = cursor.rows
            && let Err(e) = self.transaction.close_cursor(id).await
        {
            tracing::warn!(module = %self.context.module, "closing a cursor failed: {e}");
        }
    }
}
