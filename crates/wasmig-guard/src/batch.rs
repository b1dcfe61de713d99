//! Batches as the database likes them: a single-row `INSERT … VALUES (?, …)` sent for many
//! rows becomes one statement that inserts many rows at once.

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

use crate::script::LineOffsets;
use crate::{Dialect, sql_dialect};

/// A single-row `INSERT` whose values are all placeholders, ready to be repeated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiRowInsert {
    /// The text up to its `VALUES` tuple (`INSERT INTO t (a, b) VALUES `).
    prefix: String,
    /// Placeholders per row.
    columns: usize,
    dialect: Dialect,
}

impl MultiRowInsert {
    /// `sql` when it is exactly `INSERT … VALUES (p1, …, pn)` with nothing after the tuple but
    /// a `;`, and its values are the placeholders of its parameters in order (`?`, or `$1` to
    /// `$n` on PostgreSQL); `None` for any other statement (it then runs row by row).
    pub fn recognize(dialect: Dialect, sql: &str) -> Option<Self> {
        let sql_dialect = sql_dialect(dialect);
        let tokens = Tokenizer::new(sql_dialect.as_ref(), sql)
            .tokenize_with_location()
            .ok()?;
        let significant: Vec<&TokenWithSpan> = tokens
            .iter()
            .filter(|t| !matches!(t.token, Token::Whitespace(_)))
            .collect();
        let keyword = |t: &TokenWithSpan, k: Keyword| matches!(&t.token, Token::Word(w) if w.keyword == k && w.quote_style.is_none());
        if !keyword(significant.first()?, Keyword::INSERT) {
            return None;
        }
        let values = values_at_top_level(&significant, keyword)?;
        // Placeholders elsewhere (a subquery before VALUES) would be bound once per row.
        if significant[..values]
            .iter()
            .any(|t| matches!(t.token, Token::Placeholder(_)))
        {
            return None;
        }
        let columns = placeholder_tuple(dialect, &significant[values + 1..])?;
        if !is_plain_insert(sql_dialect.as_ref(), sql) {
            return None;
        }
        let start = LineOffsets::new(sql).byte(significant[values + 1].span.start);
        Some(MultiRowInsert {
            prefix: sql[..start].to_owned(),
            columns,
            dialect,
        })
    }

    /// Placeholders per row.
    pub fn columns(&self) -> usize {
        self.columns
    }

    /// The statement that inserts `rows` rows, their parameters one row after another.
    pub fn for_rows(&self, rows: usize) -> String {
        let dialect = self.dialect;
        self.with_placeholders(rows, |number| match dialect {
            Dialect::Postgres => format!("${number}"),
            _ => "?".to_owned(),
        })
    }

    /// [`MultiRowInsert::for_rows`] with the `n`th parameter (from 1) written as `name(n)`
    /// instead of a placeholder (MariaDB/MySQL session variables the host sets first).
    pub fn for_rows_named(&self, rows: usize, name: impl Fn(usize) -> String) -> String {
        self.with_placeholders(rows, name)
    }

    fn with_placeholders(&self, rows: usize, placeholder: impl Fn(usize) -> String) -> String {
        let mut sql = self.prefix.clone();
        let mut number = 0;
        for row in 0..rows {
            if row > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for column in 0..self.columns {
                if column > 0 {
                    sql.push_str(", ");
                }
                number += 1;
                sql.push_str(&placeholder(number));
            }
            sql.push(')');
        }
        sql
    }
}

/// True when `sql` parses as one `INSERT` whose source is exactly one `VALUES` row: not an
/// operand of `UNION`/`EXCEPT`/`INTERSECT` (which would apply once per chunk instead of once
/// per row), no `WITH`, `ORDER BY` or `LIMIT`, no `ON CONFLICT`/`ON DUPLICATE KEY`, no
/// `RETURNING`.
fn is_plain_insert(dialect: &dyn sqlparser::dialect::Dialect, sql: &str) -> bool {
    use sqlparser::ast::{SetExpr, Statement};
    let Ok(statements) = crate::chain::parse_sql(dialect, sql) else {
        return false;
    };
    let [Statement::Insert(insert)] = statements.as_slice() else {
        return false;
    };
    let Some(query) = &insert.source else {
        return false;
    };
    let single_row =
        matches!(query.body.as_ref(), SetExpr::Values(values) if values.rows.len() == 1);
    single_row
        && query.with.is_none()
        && query.order_by.is_none()
        && query.limit_clause.is_none()
        && insert.on.is_none()
        && insert.returning.is_none()
        && insert.assignments.is_empty()
}

/// The index of the `VALUES` keyword outside any parentheses.
fn values_at_top_level(
    tokens: &[&TokenWithSpan],
    keyword: impl Fn(&TokenWithSpan, Keyword) -> bool,
) -> Option<usize> {
    let mut depth = 0_i32;
    for (i, token) in tokens.iter().enumerate() {
        match token.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            _ if depth == 0 && keyword(token, Keyword::VALUES) => return Some(i),
            _ => {}
        }
    }
    None
}

/// The number of placeholders in `(p1, …, pn)`, when `tokens` are exactly that tuple and an
/// optional `;`.
fn placeholder_tuple(dialect: Dialect, tokens: &[&TokenWithSpan]) -> Option<usize> {
    let (open, rest) = tokens.split_first()?;
    if open.token != Token::LParen {
        return None;
    }
    let mut columns = 0;
    let mut rest = rest;
    loop {
        let (placeholder, after) = rest.split_first()?;
        columns += 1;
        let expected = match dialect {
            Dialect::Postgres => format!("${columns}"),
            _ => "?".to_owned(),
        };
        if placeholder.token != Token::Placeholder(expected) {
            return None;
        }
        let (separator, after) = after.split_first()?;
        rest = after;
        match separator.token {
            Token::Comma => continue,
            Token::RParen => break,
            _ => return None,
        }
    }
    match rest {
        [] => Some(columns),
        [end] if end.token == Token::SemiColon => Some(columns),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_row_insert_of_placeholders_is_repeated() {
        let insert = MultiRowInsert::recognize(
            Dialect::Postgres,
            "INSERT INTO \"my values\" (id, name)\n  VALUES ($1, $2);",
        )
        .unwrap();
        assert_eq!(insert.columns(), 2);
        assert_eq!(
            insert.for_rows(3),
            "INSERT INTO \"my values\" (id, name)\n  VALUES ($1, $2), ($3, $4), ($5, $6)"
        );
        let insert =
            MultiRowInsert::recognize(Dialect::MySql, "insert into t values (?,?,?)").unwrap();
        assert_eq!(
            insert.for_rows(2),
            "insert into t values (?, ?, ?), (?, ?, ?)"
        );
        assert_eq!(
            insert.for_rows_named(2, |n| format!("@p{n}")),
            "insert into t values (@p1, @p2, @p3), (@p4, @p5, @p6)"
        );
    }

    #[test]
    fn anything_else_runs_row_by_row() {
        for (dialect, sql) in [
            (Dialect::Postgres, "INSERT INTO t VALUES ($2, $1)"),
            (Dialect::Postgres, "INSERT INTO t VALUES ($1, 'x')"),
            (Dialect::Postgres, "INSERT INTO t VALUES ($1) RETURNING id"),
            (
                Dialect::Postgres,
                "INSERT INTO t VALUES ($1) ON CONFLICT DO NOTHING",
            ),
            (
                Dialect::MySql,
                "INSERT INTO t VALUES (?) ON DUPLICATE KEY UPDATE a = 1",
            ),
            (Dialect::MySql, "INSERT INTO t VALUES (?), (?)"),
            (Dialect::MySql, "INSERT INTO t SELECT ? FROM u"),
            (
                Dialect::MySql,
                "INSERT INTO t (a) SELECT x FROM (SELECT ? AS x) s VALUES (?)",
            ),
            (Dialect::MySql, "UPDATE t SET a = ?"),
            (Dialect::MySql, "INSERT INTO t VALUES (?); DROP TABLE u"),
            (
                Dialect::Postgres,
                "INSERT INTO t SELECT 'start' UNION VALUES ($1)",
            ),
            (
                Dialect::Postgres,
                "INSERT INTO t SELECT 1 EXCEPT VALUES ($1)",
            ),
            (
                Dialect::MySql,
                "INSERT INTO t SELECT 'start' UNION VALUES (?)",
            ),
        ] {
            assert_eq!(MultiRowInsert::recognize(dialect, sql), None, "{sql}");
        }
    }

    #[test]
    fn a_trailing_comment_is_left_out() {
        let insert =
            MultiRowInsert::recognize(Dialect::MySql, "INSERT INTO t VALUES (?) -- ; DROP")
                .unwrap();
        assert_eq!(insert.for_rows(2), "INSERT INTO t VALUES (?), (?)");
    }
}
