//! Why a guest statement was refused: the vocabulary shared by the SQL policy (which refuses
//! before the database sees a statement) and the database's own layer (SQLite's authorizer,
//! PostgreSQL roles, MySQL accounts), so that a host can tell one rule from another.

use std::fmt;

use serde::Serialize;

/// The rule a refused statement broke. New rules may be added: match with a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Rule {
    /// The statement cannot be read with certainty (unparsable, empty, or hiding text the
    /// server runs, such as MySQL's executable comments): refused rather than guessed at.
    Unreadable,
    /// A kind of statement no step may send (temporary objects, attaching databases, file
    /// and program access, privileges, `SELECT … INTO`, cascades, …).
    Statement,
    /// Transaction control, which belongs to the host.
    TransactionControl,
    /// A session or database setting a step may not change.
    Setting,
    /// A function that is not on the dialect's allow-list (nor, on PostgreSQL, the module's).
    Function,
    /// Stored code (functions, `DO` blocks, triggers running functions) where the database
    /// cannot confine it, or in a language the policy does not allow.
    Code,
    /// An object beyond what the module owns and its manifest grants (another module's, the
    /// host's or the application's).
    Access,
    /// A name that belongs to someone else, to the host, or lacks the required prefix.
    Name,
    /// A schema-catalog query that cannot be limited to the module's own objects.
    Catalog,
    /// An extension the operator does not allow, or asked for in a way the host cannot honour.
    Extension,
    /// A statement that cannot run inside the step's transaction, in a step that did not
    /// declare itself non-transactional.
    NonTransactional,
    /// The database's own layer refused it (SQLite's authorizer, the module's PostgreSQL role,
    /// its MySQL account).
    Database,
}

/// A refused guest statement: the rule, the object concerned when there is one, the
/// statement (whitespace collapsed, shortened) and the explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Denial {
    /// The rule it broke.
    pub rule: Rule,
    /// The object concerned (normalised name), when the rule is about one.
    pub object: Option<String>,
    /// The statement, as the guest sent it (shortened).
    pub statement: String,
    /// The rule it broke, in words.
    pub reason: String,
}

impl Denial {
    /// How much of a statement a denial quotes.
    const SHOWN: usize = 160;

    /// A denial of `statement` (whitespace collapsed and shortened for messages).
    pub fn new(rule: Rule, statement: &str, reason: impl Into<String>) -> Self {
        let statement = statement.split_whitespace().collect::<Vec<_>>().join(" ");
        let statement = match statement.char_indices().nth(Self::SHOWN) {
            Some((end, _)) => format!("{}…", &statement[..end]),
            None => statement,
        };
        Denial {
            rule,
            object: None,
            statement,
            reason: reason.into(),
        }
    }

    /// The same denial, about `object`.
    pub fn about(mut self, object: Option<String>) -> Self {
        self.object = object;
        self
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rule {
            Rule::Database => write!(
                f,
                "the database refused `{}`: {}",
                self.statement, self.reason
            ),
            Rule::NonTransactional => write!(f, "`{}` {}", self.statement, self.reason),
            _ => write!(f, "{} (in `{}`)", self.reason, self.statement),
        }
    }
}

impl std::error::Error for Denial {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_denial_quotes_the_statement_shortened_on_one_line() {
        let long = format!("SELECT\n  {} FROM t", "x, ".repeat(100));
        let denial = Denial::new(Rule::Access, &long, "may not read `t`");
        assert!(!denial.statement.contains('\n'));
        assert_eq!(denial.statement.chars().count(), Denial::SHOWN + 1);
        assert!(denial.statement.ends_with('…'));
        let text = denial.to_string();
        assert!(
            text.starts_with("may not read `t` (in `SELECT x, x,"),
            "{text}"
        );
    }

    #[test]
    fn a_database_refusal_reads_as_one() {
        let denial = Denial::new(Rule::Database, "SELECT * FROM users", "not authorized");
        assert_eq!(
            denial.to_string(),
            "the database refused `SELECT * FROM users`: not authorized"
        );
    }
}
