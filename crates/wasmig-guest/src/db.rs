use crate::bindings::exports::wasmig::migration::step;
use crate::bindings::wasmig::migration::database::Connection;
use crate::cursor::Cursor;
use crate::error::{Error, Result};
use crate::value::{FromValue, Value};

/// The SQL dialect of the database a step runs against.
pub use crate::bindings::wasmig::migration::database::Dialect;

/// Where a step runs: which module, which step, from which version to which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The module's name.
    pub module: String,
    /// The step's file stem (`002_add_status`), or `install`.
    pub step: String,
    /// The version stored before this upgrade; `None` on a fresh install.
    pub from_version: Option<String>,
    /// The version the module is being upgraded to.
    pub to_version: String,
}

impl Context {
    /// True when the module was never installed in this database.
    pub fn is_fresh_install(&self) -> bool {
        self.from_version.is_none()
    }
}

impl From<step::Context> for Context {
    fn from(ctx: step::Context) -> Self {
        Context {
            module: ctx.module,
            step: ctx.step,
            from_version: ctx.from_version,
            to_version: ctx.to_version,
        }
    }
}

/// The database handle a step receives: already inside the step's transaction, limited to what
/// the host allows this module.
pub struct Db<'a> {
    conn: &'a Connection,
    context: Context,
}

impl<'a> Db<'a> {
    pub(crate) fn new(conn: &'a Connection, context: Context) -> Self {
        Db { conn, context }
    }

    /// Where this step runs.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// The SQL dialect of the database (placeholders: `?` on SQLite/MySQL, `$1` on PostgreSQL).
    pub fn dialect(&self) -> Dialect {
        self.conn.dialect()
    }

    /// The placeholder of the `n`th parameter (from 1) in this dialect: `$n` on PostgreSQL, `?`
    /// elsewhere. For migrations meant to run on several databases.
    pub fn param(&self, n: usize) -> String {
        match self.dialect() {
            Dialect::Postgres => format!("${n}"),
            Dialect::Sqlite | Dialect::Mysql => "?".to_owned(),
        }
    }

    /// Runs one statement and returns the number of rows it affected.
    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        self.conn
            .execute(sql, params)
            .map_err(|e| Error::database(sql, e))
    }

    /// Runs one statement that is allowed to fail (a normalize pass, a column that may already
    /// exist): the host wraps it so that a failure does not spoil the step's transaction, logs
    /// the failure and records it in the ledger; the step goes on. Returns `Some(rows)` when it
    /// succeeded, `None` when it failed. Needs host API 0.1.1 (`host-api = "^0.1.1"`).
    /// A denied statement or an exceeded limit still stops the step.
    pub fn execute_tolerant(&self, sql: &str, params: &[Value]) -> Option<u64> {
        self.conn.execute_tolerant(sql, params).ok()
    }

    /// Runs one statement once per parameter row, in one host call; returns the rows affected.
    pub fn execute_batch(&self, sql: &str, rows: &[Vec<Value>]) -> Result<u64> {
        self.conn
            .execute_batch(sql, rows)
            .map_err(|e| Error::database(sql, e))
    }

    /// Runs a query and returns all of its rows.
    pub fn query(&self, sql: &str, params: &[Value]) -> Result<Rows> {
        let set = self
            .conn
            .query(sql, params)
            .map_err(|e| Error::database(sql, e))?;
        Ok(Rows {
            columns: set.columns,
            rows: set.rows,
        })
    }

    /// Runs a query and returns its rows as an iterator that reads them from the host a page
    /// at a time: for results too large to hold at once (a step scanning a million rows
    /// holds a few hundred). Other statements may run while it is open. Needs host API 0.1.2
    /// (`host-api = "^0.1.2"`). Only a query that reads (`SELECT`, `VALUES`, `WITH … SELECT`)
    /// can be iterated; the rows count against the step's limits like any query's.
    ///
    /// ```no_run
    /// # use wasmig_guest::{Db, Result, params};
    /// # fn up(db: &Db) -> Result<()> {
    /// for row in db.query_iter("SELECT id, body FROM blog_posts", params![])? {
    ///     let row = row?;
    ///     let body: String = row.get("body")?;
    ///     db.execute("UPDATE blog_posts SET words = ? WHERE id = ?",
    ///         params![body.split_whitespace().count() as i64, row.get::<i64>("id")?])?;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn query_iter(&self, sql: &str, params: &[Value]) -> Result<Cursor> {
        let cursor = self
            .conn
            .open_cursor(sql, params)
            .map_err(|e| Error::database(sql, e))?;
        Ok(Cursor::new(cursor, sql))
    }

    /// Runs a query that must return exactly one row and reads its first column.
    pub fn query_scalar<T: FromValue>(&self, sql: &str, params: &[Value]) -> Result<T> {
        let rows = self.query(sql, params)?;
        match rows.rows.as_slice() {
            [row] => rows.row(row).get(0),
            other => Err(Error::Value(format!(
                "expected one row, got {} (in `{sql}`)",
                other.len()
            ))),
        }
    }
}

/// Schema helpers that are safe to run twice, for steps that may be resumed (MySQL commits
/// DDL as it goes, so a step interrupted half-way is replayed: the host answers its earlier
/// catalog checks as they were answered the first time and skips what already committed).
/// Names are compared as stored: use lower-case, unquoted names.
impl Db<'_> {
    /// True when `table` exists in the module's schema.
    pub fn has_table(&self, table: &str) -> Result<bool> {
        let sql = match self.dialect() {
            Dialect::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
            }
            Dialect::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = $1"
            }
            Dialect::Mysql => {
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = DATABASE() AND table_name = ?"
            }
        };
        Ok(self.query_scalar::<i64>(sql, &[table.into()])? > 0)
    }

    /// True when `table` has a column named `column`.
    pub fn has_column(&self, table: &str, column: &str) -> Result<bool> {
        let (sql, params) = match self.dialect() {
            // The host lets a pragma describe only tables it names as a string.
            Dialect::Sqlite => (
                format!(
                    "SELECT COUNT(*) FROM pragma_table_info('{}') WHERE name = ?",
                    table.replace('\'', "''")
                ),
                vec![column.into()],
            ),
            Dialect::Postgres => (
                "SELECT COUNT(*) FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2"
                    .to_owned(),
                vec![table.into(), column.into()],
            ),
            Dialect::Mysql => (
                "SELECT COUNT(*) FROM information_schema.columns \
                 WHERE table_schema = DATABASE() AND table_name = ? AND column_name = ?"
                    .to_owned(),
                vec![table.into(), column.into()],
            ),
        };
        Ok(self.query_scalar::<i64>(&sql, &params)? > 0)
    }

    /// True when an index named `index` exists on `table`.
    pub fn has_index(&self, table: &str, index: &str) -> Result<bool> {
        let sql = match self.dialect() {
            Dialect::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND name = ?"
            }
            Dialect::Postgres => {
                "SELECT COUNT(*) FROM pg_indexes \
                 WHERE schemaname = current_schema() AND tablename = $1 AND indexname = $2"
            }
            Dialect::Mysql => {
                "SELECT COUNT(*) FROM information_schema.statistics \
                 WHERE table_schema = DATABASE() AND table_name = ? AND index_name = ?"
            }
        };
        Ok(self.query_scalar::<i64>(sql, &[table.into(), index.into()])? > 0)
    }

    /// `CREATE TABLE IF NOT EXISTS table (definition)`: one statement, the same on every run.
    pub fn create_table_if_missing(&self, table: &str, definition: &str) -> Result<()> {
        self.execute(
            &format!("CREATE TABLE IF NOT EXISTS {table} ({definition})"),
            &[],
        )?;
        Ok(())
    }

    /// Adds `column definition` to `table` unless it has the column; true when it was added.
    pub fn add_column_if_missing(
        &self,
        table: &str,
        column: &str,
        definition: &str,
    ) -> Result<bool> {
        if self.has_column(table, column)? {
            return Ok(false);
        }
        self.execute(
            &format!("ALTER TABLE {table} ADD COLUMN {column} {definition}"),
            &[],
        )?;
        Ok(true)
    }

    /// Creates `index` on `table (columns)` unless it exists; true when it was created.
    pub fn create_index_if_missing(&self, table: &str, index: &str, columns: &str) -> Result<bool> {
        if self.has_index(table, index)? {
            return Ok(false);
        }
        self.execute(&format!("CREATE INDEX {index} ON {table} ({columns})"), &[])?;
        Ok(true)
    }
}

/// The rows a query returned.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    columns: Vec<String>,
    rows: Vec<Vec<Value>>,
}

impl Rows {
    /// Builds a result set; mostly useful in unit tests of migration helpers.
    pub fn new(columns: Vec<String>, rows: Vec<Vec<Value>>) -> Self {
        Rows { columns, rows }
    }

    /// The column names, in order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when the query returned no row.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The rows, each readable by column name or position.
    pub fn iter(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows.iter().map(|values| self.row(values))
    }

    fn row<'r>(&'r self, values: &'r [Value]) -> Row<'r> {
        Row {
            columns: &self.columns,
            values,
        }
    }
}

/// A column index: a position (`0`) or a name (`"id"`).
pub trait ColumnIndex {
    /// The position of this column among `columns`.
    fn position(&self, columns: &[String]) -> Result<usize>;
}

impl ColumnIndex for usize {
    fn position(&self, columns: &[String]) -> Result<usize> {
        if *self < columns.len() {
            Ok(*self)
        } else {
            Err(Error::Value(format!(
                "column {self} out of range ({} columns)",
                columns.len()
            )))
        }
    }
}

impl ColumnIndex for &str {
    fn position(&self, columns: &[String]) -> Result<usize> {
        columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(self))
            .ok_or_else(|| Error::Value(format!("no column named `{self}` in {columns:?}")))
    }
}

/// One row of a query result.
#[derive(Debug, Clone, Copy)]
pub struct Row<'r> {
    columns: &'r [String],
    values: &'r [Value],
}

impl<'r> Row<'r> {
    pub(crate) fn new(columns: &'r [String], values: &'r [Value]) -> Self {
        Row { columns, values }
    }
}

impl Row<'_> {
    /// Reads a column as `T`: `row.get::<i64>("id")`, `row.get::<Option<String>>(1)`.
    pub fn get<T: FromValue>(&self, column: impl ColumnIndex) -> Result<T> {
        let index = column.position(self.columns)?;
        T::from_value(&self.values[index]).map_err(|e| match e {
            Error::Value(why) => Error::Value(format!("column `{}`: {why}", self.columns[index])),
            other => other,
        })
    }

    /// The raw values of this row.
    pub fn values(&self) -> &[Value] {
        self.values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Rows {
        Rows::new(
            vec!["id".into(), "title".into()],
            vec![
                vec![Value::Integer(1), Value::Text("hello".into())],
                vec![Value::Integer(2), Value::Null],
            ],
        )
    }

    #[test]
    fn rows_are_read_by_name_and_position() {
        let rows = sample();
        let read: Vec<(i64, Option<String>)> = rows
            .iter()
            .map(|r| (r.get("ID").unwrap(), r.get(1).unwrap()))
            .collect();
        assert_eq!(read, vec![(1, Some("hello".into())), (2, None)]);
    }

    #[test]
    fn bad_column_access_names_the_column() {
        let rows = sample();
        let row = rows.iter().nth(1).unwrap();
        let err = row.get::<String>("title").unwrap_err().to_string();
        assert!(err.starts_with("column `title`: expected text"), "{err}");
        assert!(row.get::<i64>("missing").is_err());
        assert!(row.get::<i64>(5).is_err());
    }
}
