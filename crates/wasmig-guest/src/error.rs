use std::fmt;

use crate::bindings::wasmig::migration::types::DbError;

/// The result type of migration code.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a migration step failed; its text is what the operator sees and the ledger records.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// The host or the database refused a statement.
    Database {
        /// The statement, shortened for display.
        sql: String,
        /// What the host said.
        error: DbError,
    },
    /// A value did not have the expected type, or a column was missing.
    Value(String),
    /// Any other failure the step reports.
    Message(String),
}

impl Error {
    /// An error with a free-form message.
    pub fn msg(message: impl fmt::Display) -> Self {
        Error::Message(message.to_string())
    }

    pub(crate) fn database(sql: &str, error: DbError) -> Self {
        const SHOWN: usize = 120;
        let sql = match sql.char_indices().nth(SHOWN) {
            Some((end, _)) => format!("{}…", &sql[..end]),
            None => sql.to_owned(),
        };
        Error::Database { sql, error }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Database { sql, error } => {
                let (kind, message) = match error {
                    DbError::Denied(m) => ("denied", m),
                    DbError::Database(m) => ("database error", m),
                    DbError::Quota(m) => ("quota exceeded", m),
                    DbError::Invalid(m) => ("invalid call", m),
                };
                write!(f, "{kind}: {message} (in `{sql}`)")
            }
            Error::Value(message) | Error::Message(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Error::Message(message)
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Error::Message(message.to_owned())
    }
}
