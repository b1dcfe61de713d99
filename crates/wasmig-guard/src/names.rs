//! Object names as the policy compares them: unquoted, lower-cased, relative to the schema the
//! step works in.

use std::ops::ControlFlow;

use sqlparser::ast::{
    AssignmentTarget, FromTable, ObjectName, Query, SetExpr, Statement, TableFactor,
    TableWithJoins, Update, Visit, Visitor,
};
use wasmig_db::Dialect;

use crate::{Refusal, Rule};

/// A resolved object name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    /// The name as written, for messages.
    written: String,
    /// The bare object name, lower-cased.
    key: String,
}

impl Name {
    /// Resolves `name` against the home schema: `x`, `main.x` (SQLite) and `<home>.x` are the
    /// same object; a name in any other schema or database is out of reach.
    pub fn resolve(
        name: &ObjectName,
        dialect: Dialect,
        home: Option<&str>,
    ) -> Result<Self, Refusal> {
        let parts: Vec<String> = name
            .0
            .iter()
            .map(|part| {
                part.as_ident()
                    .map_or_else(|| part.to_string(), |i| i.value.clone())
            })
            .collect();
        let written = name.to_string();
        let key = match parts.as_slice() {
            [object] => object.to_lowercase(),
            [schema, object] if is_home(schema, dialect, home) => object.to_lowercase(),
            [schema, _] => {
                return Err(Refusal::new(
                    Rule::Access,
                    format!("`{written}` lies in schema `{schema}`, outside this module's reach"),
                ));
            }
            _ => {
                return Err(Refusal::new(
                    Rule::Access,
                    format!("`{written}` names another database or catalog"),
                ));
            }
        };
        Ok(Name { written, key })
    }

    /// The key the policy compares.
    pub fn key(&self) -> String {
        self.key.clone()
    }

    /// The name as the statement wrote it.
    pub fn display(&self) -> &str {
        &self.written
    }
}

fn is_home(schema: &str, dialect: Dialect, home: Option<&str>) -> bool {
    let schema = schema.to_lowercase();
    match dialect {
        Dialect::Sqlite => schema == "main",
        Dialect::Postgres | Dialect::MySql => home.is_some_and(|home| home == schema),
    }
}

/// The bare last part of a name, lower-cased.
pub fn last_part(name: &ObjectName) -> String {
    name.0
        .last()
        .map(|part| {
            part.as_ident()
                .map_or_else(|| part.to_string(), |i| i.value.clone())
        })
        .unwrap_or_default()
        .to_lowercase()
}

/// `name` without its last part (the table of `table.column`).
pub fn without_last(name: &ObjectName) -> ObjectName {
    let mut parts = name.0.clone();
    parts.pop();
    ObjectName(parts)
}

/// A name from its parts, as written.
pub fn from_parts(parts: &[String]) -> ObjectName {
    ObjectName::from(
        parts
            .iter()
            .map(|part| sqlparser::ast::Ident::new(part.as_str()))
            .collect::<Vec<_>>(),
    )
}

/// True for MySQL's `DUAL`, the table of no rows a `SELECT … FROM DUAL` names (unquoted: a
/// quoted `` `dual` `` is a real table).
pub fn is_dual(name: &ObjectName) -> bool {
    match name.0.as_slice() {
        [part] => part
            .as_ident()
            .is_some_and(|i| i.quote_style.is_none() && i.value.eq_ignore_ascii_case("dual")),
        _ => false,
    }
}

/// The table a `FROM`-like factor names (UPDATE and DELETE targets must be plain tables).
pub fn table_of(factor: &TableFactor) -> Result<ObjectName, Refusal> {
    match factor {
        TableFactor::Table {
            name, args: None, ..
        } => Ok(name.clone()),
        other => Err(Refusal::new(
            Rule::Statement,
            format!("`{other}` is not a plain table"),
        )),
    }
}

/// The tables after `DELETE FROM`.
pub fn from_tables(from: &FromTable) -> &[TableWithJoins] {
    match from {
        FromTable::WithFromKeyword(tables) | FromTable::WithoutKeyword(tables) => tables,
    }
}

/// The tables an `UPDATE` writes: its target, and on MySQL (`UPDATE a JOIN b … SET b.x = …`)
/// every joined table an assignment names, or all of them when an assignment names a column
/// without its table.
pub fn update_targets(update: &Update) -> Result<Vec<ObjectName>, Refusal> {
    let mut tables: Vec<(ObjectName, Option<String>)> = Vec::new();
    for factor in std::iter::once(&update.table.relation)
        .chain(update.table.joins.iter().map(|join| &join.relation))
    {
        if let TableFactor::Table {
            name,
            alias,
            args: None,
            ..
        } = factor
        {
            tables.push((
                name.clone(),
                alias.as_ref().map(|a| a.name.value.to_lowercase()),
            ));
        }
    }
    let target = table_of(&update.table.relation)?;
    if update.table.joins.is_empty() {
        return Ok(vec![target]);
    }
    let mut written = vec![target];
    for assignment in &update.assignments {
        let columns = match &assignment.target {
            AssignmentTarget::ColumnName(column) => std::slice::from_ref(column),
            AssignmentTarget::Tuple(columns) => columns.as_slice(),
        };
        for column in columns {
            let qualifier = (column.0.len() > 1).then(|| {
                let mut table = column.clone();
                table.0.pop();
                table
            });
            match qualifier {
                Some(qualifier) => {
                    let written_as = last_part(&qualifier);
                    written.extend(
                        tables
                            .iter()
                            .filter(|(name, alias)| {
                                alias.as_deref() == Some(written_as.as_str())
                                    || (alias.is_none() && last_part(name) == written_as)
                            })
                            .map(|(name, _)| name.clone()),
                    );
                }
                // Which table an unqualified column belongs to is the server's guess: all.
                None => written.extend(tables.iter().map(|(name, _)| name.clone())),
            }
        }
    }
    Ok(written)
}

/// The data-changing statements nested in a query (`WITH d AS (UPDATE … RETURNING *) …`).
pub fn nested_changes(query: &Query) -> Vec<Statement> {
    struct Changes(Vec<Statement>);
    impl Visitor for Changes {
        type Break = ();
        fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
            if let SetExpr::Insert(s)
            | SetExpr::Update(s)
            | SetExpr::Delete(s)
            | SetExpr::Merge(s) = query.body.as_ref()
            {
                self.0.push(s.clone());
            }
            ControlFlow::Continue(())
        }
    }
    let mut changes = Changes(Vec::new());
    let _ = query.visit(&mut changes);
    changes.0
}
