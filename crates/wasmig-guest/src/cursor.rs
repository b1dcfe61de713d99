//! Reading a large result a page at a time.

use std::rc::Rc;

use crate::bindings::wasmig::migration::database as wit;
use crate::db::{ColumnIndex, Row};
use crate::error::{Error, Result};
use crate::value::{FromValue, Value};

/// Rows asked of the host per page.
const PAGE_ROWS: u32 = 500;

/// The rows of a query, read from the host a page at a time as the iteration goes (see
/// [`Db::query_iter`](crate::Db::query_iter)): a step can scan a table of any size while it
/// holds one page. Dropping it closes the query.
pub struct Cursor {
    cursor: wit::Cursor,
    sql: String,
    columns: Rc<[String]>,
    page: std::vec::IntoIter<Vec<Value>>,
    done: bool,
}

impl Cursor {
    pub(crate) fn new(cursor: wit::Cursor, sql: &str) -> Self {
        Cursor {
            columns: cursor.columns().into(),
            cursor,
            sql: sql.to_owned(),
            page: Vec::new().into_iter(),
            done: false,
        }
    }

    /// The column names, in order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }
}

impl Iterator for Cursor {
    type Item = Result<OwnedRow>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(values) = self.page.next() {
                return Some(Ok(OwnedRow {
                    columns: Rc::clone(&self.columns),
                    values,
                }));
            }
            if self.done {
                return None;
            }
            match self.cursor.next(PAGE_ROWS) {
                Ok(rows) if rows.is_empty() => self.done = true,
                Ok(rows) => self.page = rows.into_iter(),
                Err(e) => {
                    self.done = true;
                    return Some(Err(Error::database(&self.sql, e)));
                }
            }
        }
    }
}

/// One row a [`Cursor`] read; it keeps its values after the cursor moves on.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedRow {
    columns: Rc<[String]>,
    values: Vec<Value>,
}

impl OwnedRow {
    /// Reads a column as `T`, by name or position (see [`Row::get`]).
    pub fn get<T: FromValue>(&self, column: impl ColumnIndex) -> Result<T> {
        self.as_row().get(column)
    }

    /// The row as a [`Row`] borrowing from it.
    pub fn as_row(&self) -> Row<'_> {
        Row::new(&self.columns, &self.values)
    }

    /// The raw values of this row.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// The row's values, taken out of it.
    pub fn into_values(self) -> Vec<Value> {
        self.values
    }
}
