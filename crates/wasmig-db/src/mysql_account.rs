//! MariaDB/MySQL: a module's statements run with the rights of an account of its own, so that
//! the server refuses what the SQL policy might miss.
//!
//! This module runs statements as the account; `wasmig-confine` creates it and grants it what
//! the module may use. The account (`wasmig_m_<module>`@`localhost`) is locked: nobody logs in with it, so there is
//! no password to make or keep. It holds every privilege on the module's tables and views
//! (granted before a statement creates or renames one: the server accepts a grant on a table
//! that does not exist yet), the manifest's grants, and `CREATE, CREATE VIEW` on the database.
//! Each guest statement is handed to a `SQL SECURITY DEFINER` procedure of that account, which
//! prepares and executes it: it runs with the account's rights, inside the step's transaction
//! on the host's own connection (so that the journal stays atomic with what the step writes).
//! Views and triggers a step creates get the account as their definer, so their bodies run
//! with its rights later too.

use crate::{Dialect, Result, Value};

/// The most parameters a guest statement may bind on MariaDB/MySQL as `?` placeholders when it
/// runs as a module's account (the procedure's `USING` lists). A statement the host writes
/// (a batch's multi-row `INSERT`) may bind more by naming them as [`variable`]s instead.
pub const MAX_PARAMS: usize = 64;

/// The session variable that holds the `n`th parameter (from 1) of a statement run as a
/// module's account. A statement with more than [`MAX_PARAMS`] parameters names them this way
/// instead of with `?`: they are set, and the procedure executes it without `USING`.
pub fn variable(n: usize) -> String {
    format!("@wasmig_p{n}")
}

/// True when a statement with `params` parameters must name them as [`variable`]s to run as a
/// module's account.
pub fn names_variables(params: usize) -> bool {
    params > MAX_PARAMS
}

/// A module's account and the procedure that runs its statements (the account is created and
/// granted its privileges by `wasmig-confine`; see [`Transaction::use_guest_account`]).
///
/// [`Transaction::use_guest_account`]: crate::Transaction::use_guest_account
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestAccount {
    /// `'name'@'localhost'`.
    account: String,
    /// `` `database`.`procedure` ``.
    procedure: String,
    /// The procedure's name, unquoted.
    procedure_name: String,
    /// `` `database` ``.
    database: String,
    /// The database as a database-level grant names it: `` `my\_app` `` (its `_` and `%`
    /// escaped, which a grant would otherwise read as wildcards), and unquoted.
    database_pattern: (String, String),
}

/// The statements that run `sql` with `params` as the account: the parameters into session
/// variables, then the procedure.
pub(crate) fn calls(guest: &GuestAccount, sql: &str, params: &[Value]) -> Result<Vec<Call>> {
    let named = names_variables(params.len());
    // A statement of `?`s cannot say it names the last variable.
    if named && !sql.contains(&variable(params.len())) {
        return Err(crate::Error::Quota(format!(
            "a statement may bind at most {MAX_PARAMS} parameters here"
        )));
    }
    let mut calls = Vec::new();
    if !params.is_empty() {
        let variables: Vec<String> = (1..=params.len())
            .map(|i| format!("{} = ?", variable(i)))
            .collect();
        calls.push(Call {
            sql: format!("SET {}", variables.join(", ")),
            params: params.to_vec(),
        });
    }
    let using = if named { 0 } else { params.len() };
    calls.push(Call {
        sql: format!("CALL {}(?, {using})", guest.procedure),
        params: vec![Value::Text(sql.to_owned())],
    });
    Ok(calls)
}

/// `database` as a database-level grant names it to mean that database only, unquoted: its
/// `_` and `%`, which such a grant reads as wildcards, and `\`, which escapes them, escaped
/// (`my\_app`).
pub fn database_pattern(database: &str) -> String {
    database
        .replace('\\', "\\\\")
        .replace('_', "\\_")
        .replace('%', "\\%")
}

/// The statement that empties the procedure's copy of the last statement and the first
/// `count` parameter [`variable`]s, so that the next user of the connection finds nothing of
/// a guest's.
pub(crate) fn clear_variables(count: usize) -> String {
    let cleared: Vec<String> = std::iter::once("@wasmig_statement".to_owned())
        .chain((1..=count).map(variable))
        .map(|name| format!("{name} = NULL"))
        .collect();
    format!("SET {}", cleared.join(", "))
}

/// One statement sent for the guest.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) sql: String,
    pub(crate) params: Vec<Value>,
}

impl GuestAccount {
    /// The account `name`@`localhost` in `database` (unquoted names).
    pub fn new(name: &str, database: &str) -> Self {
        let pattern = database_pattern(database);
        let database_pattern = (Dialect::MySql.quote(&pattern), pattern);
        let database = Dialect::MySql.quote(database);
        // The version changes with the procedure's text, so that a host with another text
        // makes its own.
        let procedure_name = format!("wasmig_guest_v1_{name}");
        GuestAccount {
            account: format!("'{}'@'localhost'", name.replace('\'', "''")),
            procedure: format!("{database}.{}", Dialect::MySql.quote(&procedure_name)),
            procedure_name,
            database,
            database_pattern,
        }
    }

    /// The database as a database-level grant (`ON … .*`) must name it so that it means this
    /// database only: quoted, with `_` and `%` escaped (`` `my\_app` ``; unescaped, `my_app`
    /// would match `myXapp` too).
    pub fn database_pattern(&self) -> &str {
        &self.database_pattern.0
    }

    /// [`GuestAccount::database_pattern`] unquoted, as `information_schema.schema_privileges`
    /// has it.
    pub fn database_pattern_unquoted(&self) -> &str {
        &self.database_pattern.1
    }

    /// The account, quoted: `'name'@'localhost'`.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The account as `information_schema` names a grantee (`'name'@'localhost'`, unescaped).
    pub fn grantee(&self) -> String {
        self.account.replace("''", "'")
    }

    /// The database, quoted.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The procedure's name, unquoted and unqualified (as `information_schema.routines` has it).
    pub fn procedure_name(&self) -> &str {
        &self.procedure_name
    }

    /// The procedure, quoted and qualified.
    pub fn procedure(&self) -> &str {
        &self.procedure
    }
}

impl GuestAccount {
    /// The statement that creates the procedure: it prepares the statement it is given and
    /// executes it with the session variables `@wasmig_p1…` as its parameters.
    pub fn procedure_definition(&self) -> String {
        let guest = self;
        let mut cases = String::from("WHEN 0 THEN EXECUTE wasmig_guest;\n");
        for n in 1..=MAX_PARAMS {
            let using: Vec<String> = (1..=n).map(variable).collect();
            cases.push_str(&format!(
                "WHEN {n} THEN EXECUTE wasmig_guest USING {};\n",
                using.join(", ")
            ));
        }
        format!(
            "CREATE OR REPLACE DEFINER = {} PROCEDURE {}(IN wasmig_statement LONGTEXT, \
         IN wasmig_params INT) SQL SECURITY DEFINER\nBEGIN\n\
         SET @wasmig_statement = wasmig_statement;\n\
         PREPARE wasmig_guest FROM @wasmig_statement;\n\
         CASE wasmig_params\n{cases}END CASE;\nEND",
            guest.account, guest.procedure
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(n: usize) -> Vec<Value> {
        (0..n as i64).map(Value::Integer).collect()
    }

    #[test]
    fn placeholders_go_through_the_procedures_using_lists() {
        let guest = GuestAccount::new("wasmig_m_blog", "app");
        let calls = calls(&guest, "INSERT INTO t VALUES (?, ?)", &params(2)).unwrap();
        assert_eq!(calls[0].sql, "SET @wasmig_p1 = ?, @wasmig_p2 = ?");
        assert_eq!(
            calls[1].sql,
            "CALL `app`.`wasmig_guest_v1_wasmig_m_blog`(?, 2)"
        );
        let no_params = super::calls(&guest, "DELETE FROM t", &[]).unwrap();
        assert_eq!(no_params.len(), 1);
    }

    #[test]
    fn the_variables_are_emptied_by_name() {
        assert_eq!(
            clear_variables(2),
            "SET @wasmig_statement = NULL, @wasmig_p1 = NULL, @wasmig_p2 = NULL"
        );
    }

    #[test]
    fn a_database_level_grant_names_the_database_without_wildcards() {
        let guest = GuestAccount::new("m", r"my_app%1\x");
        assert_eq!(guest.database(), r"`my_app%1\x`");
        assert_eq!(guest.database_pattern(), r"`my\_app\%1\\x`");
        assert_eq!(guest.database_pattern_unquoted(), r"my\_app\%1\\x");
    }

    #[test]
    fn more_parameters_than_the_lists_take_must_be_named() {
        let guest = GuestAccount::new("m", "app");
        let tuples = vec!["(?)"; MAX_PARAMS + 1].join(", ");
        let placeholders = calls(
            &guest,
            &format!("INSERT INTO t VALUES {tuples}"),
            &params(65),
        );
        assert!(
            matches!(&placeholders, Err(crate::Error::Quota(m)) if m.contains("at most 64")),
            "{placeholders:?}"
        );
        let named: Vec<String> = (1..=MAX_PARAMS + 1)
            .map(|n| format!("({})", variable(n)))
            .collect();
        let sql = format!("INSERT INTO t VALUES {}", named.join(", "));
        let calls = calls(&guest, &sql, &params(65)).unwrap();
        assert!(
            calls[0].sql.ends_with("@wasmig_p65 = ?"),
            "{}",
            calls[0].sql
        );
        assert_eq!(calls[0].params.len(), 65);
        assert!(calls[1].sql.ends_with("(?, 0)"), "executed without USING");
        assert_eq!(calls[1].params, vec![Value::Text(sql)]);
    }
}
