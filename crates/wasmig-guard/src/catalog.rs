//! Catalog reads, confined: a statement that reads the schema catalog (`sqlite_master`,
//! `information_schema.columns`, `pg_indexes`, …) runs with each catalog relation replaced by
//! its rows that describe the module's own objects and its grants, so that other objects'
//! names, defaults, bodies, comments and statistics never reach the step.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use sqlparser::ast::{
    FunctionArg, FunctionArgExpr, Ident, ObjectName, Statement, TableAlias, TableFactor, Value,
    Visit, VisitMut, Visitor, VisitorMut,
};
use sqlparser::parser::Parser;
use wasmig_db::Dialect;

use crate::{Refusal, Rule};

use crate::rules;

/// `statement` with every catalog relation it reads limited to the rows of `visible` (the
/// names the module owns or was granted, normalised); `None` when it reads none, `Err` when
/// the rewrite fails (the statement is then refused).
pub(crate) fn confine(
    dialect: Dialect,
    statement: &Statement,
    visible: &BTreeSet<String>,
) -> Result<Option<String>, Refusal> {
    let mut confined = statement.clone();
    let mut confiner = Confiner {
        dialect,
        names: name_list(visible),
        changed: false,
        failed: false,
    };
    let _ = VisitMut::visit(&mut confined, &mut confiner);
    if confiner.failed {
        return Err(Refusal::new(
            Rule::Catalog,
            "this catalog query cannot be limited to the module's objects",
        ));
    }
    Ok(confiner.changed.then(|| confined.to_string()))
}

/// True when `statement` names a catalog relation a step may read.
pub(crate) fn reads_catalog(dialect: Dialect, statement: &Statement) -> bool {
    sqlparser::ast::visit_relations(statement, |relation| {
        if rules::is_catalog(dialect, relation) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .is_break()
}

/// The tables SQLite's table-valued pragmas describe (`pragma_table_info('t')`): each
/// pragma with the table it names, `None` when that is not a plain string.
pub(crate) fn pragma_targets(statement: &Statement) -> Vec<(String, Option<String>)> {
    struct Targets(Vec<(String, Option<String>)>);
    impl Visitor for Targets {
        type Break = ();
        fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
            if let TableFactor::Table {
                name,
                args: Some(args),
                ..
            } = factor
            {
                let pragma = rules::lowered_parts(name).join(".");
                if pragma.starts_with("pragma_") {
                    let target = match args.args.first() {
                        Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(
                            sqlparser::ast::Expr::Value(value),
                        ))) => match &value.value {
                            Value::SingleQuotedString(text) => Some(text.to_lowercase()),
                            _ => None,
                        },
                        _ => None,
                    };
                    self.0.push((pragma, target));
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut targets = Targets(Vec::new());
    let _ = Visit::visit(statement, &mut targets);
    targets.0
}

/// The names as a SQL list of lower-case strings (`NULL` when there are none).
fn name_list(visible: &BTreeSet<String>) -> String {
    if visible.is_empty() {
        return "NULL".into();
    }
    visible
        .iter()
        .map(|name| format!("'{}'", name.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The condition that keeps a catalog relation's rows about `names`, or `None` when
/// `relation` is not a catalog relation a step may read.
fn filter(dialect: Dialect, relation: &ObjectName, names: &str) -> Option<String> {
    if !rules::is_catalog(dialect, relation) {
        return None;
    }
    let written = rules::lowered_parts(relation).join(".");
    Some(match dialect {
        Dialect::Sqlite => format!("lower(tbl_name) IN ({names})"),
        Dialect::Postgres if written.ends_with("pg_indexes") => {
            format!("schemaname = current_schema() AND lower(tablename::text) IN ({names})")
        }
        Dialect::Postgres => {
            format!("table_schema = current_schema() AND lower(table_name::text) IN ({names})")
        }
        Dialect::MySql => {
            format!("table_schema = DATABASE() AND LOWER(table_name) IN ({names})")
        }
    })
}

struct Confiner {
    dialect: Dialect,
    names: String,
    changed: bool,
    failed: bool,
}

impl VisitorMut for Confiner {
    type Break = ();

    // After the children: the subquery put in place is not visited again.
    fn post_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        let TableFactor::Table {
            name,
            alias,
            args: None,
            ..
        } = factor
        else {
            return ControlFlow::Continue(());
        };
        let Some(condition) = filter(self.dialect, name, &self.names) else {
            return ControlFlow::Continue(());
        };
        let sql = format!("SELECT * FROM {name} WHERE {condition}");
        let parsed = Parser::new(crate::sql_dialect(self.dialect).as_ref())
            .try_with_sql(&sql)
            .and_then(|mut parser| parser.parse_query());
        let Ok(subquery) = parsed else {
            self.failed = true;
            return ControlFlow::Break(());
        };
        let alias = alias.clone().unwrap_or_else(|| TableAlias {
            explicit: true,
            name: Ident::new(rules::lowered_parts(name).pop().unwrap_or_default()),
            columns: Vec::new(),
            at: None,
        });
        *factor = TableFactor::Derived {
            lateral: false,
            subquery,
            alias: Some(alias),
            sample: None,
        };
        self.changed = true;
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn confined(dialect: Dialect, sql: &str, visible: &[&str]) -> Option<String> {
        let statement = Parser::parse_sql(crate::sql_dialect(dialect).as_ref(), sql)
            .unwrap()
            .remove(0);
        let visible = visible.iter().map(|n| n.to_string()).collect();
        confine(dialect, &statement, &visible).unwrap()
    }

    #[test]
    fn catalog_relations_keep_only_the_rows_of_visible_names() {
        let sql = confined(
            Dialect::Postgres,
            "SELECT c.column_name, column_default FROM information_schema.columns c \
             WHERE c.table_name = 'victim_secrets'",
            &["blog_posts", "o'brien"],
        )
        .unwrap();
        assert!(
            sql.contains(
                "FROM (SELECT * FROM information_schema.columns WHERE table_schema = \
                 current_schema() AND lower(table_name::TEXT) IN ('blog_posts', 'o''brien')) \
                 c WHERE"
            ),
            "{sql}"
        );
        // Unaliased, nested, and in every backend's spelling.
        let sql = confined(
            Dialect::MySql,
            "SELECT COUNT(*) FROM (SELECT * FROM INFORMATION_SCHEMA.STATISTICS) s",
            &[],
        )
        .unwrap();
        assert!(
            sql.contains("LOWER(table_name) IN (NULL)) AS statistics"),
            "{sql}"
        );
        let sql = confined(Dialect::Sqlite, "SELECT sql FROM sqlite_master", &["t"]).unwrap();
        assert!(
            sql.contains("WHERE lower(tbl_name) IN ('t')) AS sqlite_master"),
            "{sql}"
        );
        assert_eq!(confined(Dialect::Sqlite, "SELECT * FROM t", &["t"]), None);
    }
}
