//! Cursors: a guest's query read a page at a time, so that a result of any size never sits
//! in memory whole, and other statements may run between two pages.
//!
//! SQLite keeps the query's own prepared statement and steps it as pages are asked for;
//! PostgreSQL declares a cursor inside the step's transaction and `FETCH`es from it. Both
//! belong to the step's transaction and end with it. MariaDB/MySQL has no cursor a client can
//! hold beside other statements on the same connection: there the runtime pages a result it
//! read whole (it journals queries there anyway).

use std::collections::{HashMap, VecDeque};

use super::Transaction;
use crate::sqlite_direct::Scan;
use crate::{Budget, Dialect, Error, Result, Value};

/// Rows a PostgreSQL cursor fetches per round trip.
const FETCH_ROWS: usize = 1000;

/// Names a cursor its transaction holds open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CursorId(u32);

/// The cursors open in a transaction.
#[derive(Debug, Default)]
pub(super) struct Cursors {
    next: u32,
    open: HashMap<u32, Cursor>,
}

impl Cursors {
    /// Forgets every cursor (SQLite's statements are finalized; PostgreSQL's end with the
    /// transaction).
    pub(super) fn clear(&mut self) {
        self.open.clear();
    }
}

#[derive(Debug)]
enum Cursor {
    Sqlite(Scan),
    Postgres(Declared),
}

/// A PostgreSQL cursor: its name, and the rows fetched but not handed out yet.
#[derive(Debug)]
struct Declared {
    name: String,
    columns: Vec<String>,
    ahead: VecDeque<Vec<Value>>,
    done: bool,
}

impl Transaction {
    /// Opens a cursor over the query `sql` (run as whoever sends it: as the guest's inside
    /// [`Transaction::as_guest`]); returns it and the query's column names. Rows read ahead
    /// are charged to `budget`. Needs an open transaction on SQLite and PostgreSQL; refused
    /// on MariaDB/MySQL.
    pub async fn open_cursor(
        &mut self,
        sql: &str,
        params: &[Value],
        budget: &mut Budget,
    ) -> Result<(CursorId, Vec<String>)> {
        if !self.open || self.dialect() == Dialect::MySql {
            return Err(Error::Statement {
                message: "a cursor needs the step's transaction, and a database that keeps a \
                          cursor beside other statements (SQLite, PostgreSQL)"
                    .into(),
                code: None,
            });
        }
        let id = self.cursors.next;
        self.cursors.next += 1;
        let cursor = match self.sqlite {
            Some(raw) => {
                self.start_call(sql, params).await?;
                let scan = Scan::open(raw, sql, params);
                Cursor::Sqlite(self.finish_call(scan, true)?)
            }
            None => Cursor::Postgres(self.declare(id, sql, params, budget).await?),
        };
        let columns = match &cursor {
            Cursor::Sqlite(scan) => scan.columns().to_vec(),
            Cursor::Postgres(declared) => declared.columns.clone(),
        };
        self.cursors.open.insert(id, cursor);
        Ok((CursorId(id), columns))
    }

    /// The next rows of cursor `id`, at most `max`, charged to `budget`; none once every row
    /// was read.
    pub async fn fetch(
        &mut self,
        id: CursorId,
        max: usize,
        budget: &mut Budget,
    ) -> Result<Vec<Vec<Value>>> {
        let Some(mut cursor) = self.cursors.open.remove(&id.0) else {
            return Err(Error::Statement {
                message: "the cursor is closed (its step's transaction ended)".into(),
                code: None,
            });
        };
        let rows = match (&mut cursor, self.sqlite) {
            (Cursor::Sqlite(scan), Some(raw)) => {
                let watch = self.start_call("", &[]).await?.1;
                let rows = scan.next(raw, max, watch.map(|w| w.deadline), budget);
                self.finish_call(rows, true)
            }
            (Cursor::Postgres(declared), _) => self.fetch_declared(declared, max, budget).await,
            (Cursor::Sqlite(_), None) => Err(Error::Abandoned),
        };
        self.cursors.open.insert(id.0, cursor);
        rows
    }

    /// Closes cursor `id` (nothing happens for one already closed).
    pub async fn close_cursor(&mut self, id: CursorId) -> Result<()> {
        match self.cursors.open.remove(&id.0) {
            Some(Cursor::Postgres(declared)) if self.open => {
                self.raw(&format!("CLOSE {}", declared.name)).await
            }
            _ => Ok(()),
        }
    }

    /// PostgreSQL: declares cursor number `id` over `sql` and reads its first rows (which
    /// tell its columns).
    async fn declare(
        &mut self,
        id: u32,
        sql: &str,
        params: &[Value],
        budget: &mut Budget,
    ) -> Result<Declared> {
        let name = format!("wasmig_cursor_{id}");
        // The query ends the text, as the guest wrote it: nothing of the host's follows it.
        let declare = format!("DECLARE {name} NO SCROLL CURSOR FOR\n{sql}");
        self.execute(&declare, params).await?;
        let first = self.query_within(&fetch_sql(&name), &[], budget).await?;
        Ok(Declared {
            name,
            done: first.rows.len() < FETCH_ROWS,
            columns: first.columns,
            ahead: first.rows.into(),
        })
    }

    /// PostgreSQL: the next rows of a declared cursor, fetched a page at a time.
    async fn fetch_declared(
        &mut self,
        declared: &mut Declared,
        max: usize,
        budget: &mut Budget,
    ) -> Result<Vec<Vec<Value>>> {
        while declared.ahead.len() < max && !declared.done {
            let page = self
                .query_within(&fetch_sql(&declared.name), &[], budget)
                .await?;
            declared.done = page.rows.len() < FETCH_ROWS;
            declared.ahead.extend(page.rows);
        }
        let take = max.min(declared.ahead.len());
        Ok(declared.ahead.drain(..take).collect())
    }
}

/// The statement that fetches the next page of cursor `name`.
fn fetch_sql(name: &str) -> String {
    format!("FETCH FORWARD {FETCH_ROWS} FROM {name}")
}
