//! The fixed rules: what is never allowed, per dialect, and why.

use sqlparser::ast::{ObjectName, Statement, ValueWithSpan};
use wasmig_db::Dialect;

/// Names the host keeps for itself (the ledger).
pub const HOST_PREFIX: &str = "wasmig_";

/// Pragmas a SQLite step may use: the foreign-key switches real table rebuilds need, and
/// read-only schema introspection.
const SAFE_PRAGMAS: &[&str] = &[
    "foreign_keys",
    "defer_foreign_keys",
    "table_info",
    "table_xinfo",
    "index_list",
    "index_info",
    "foreign_key_list",
];

/// Catalog relations a step may read: schema metadata, never data.
fn catalog_relations(dialect: Dialect) -> &'static [&'static str] {
    match dialect {
        Dialect::Sqlite => &[
            "sqlite_master",
            "sqlite_schema",
            "pragma_table_info",
            "pragma_table_xinfo",
            "pragma_index_list",
            "pragma_index_info",
            "pragma_foreign_key_list",
        ],
        Dialect::Postgres => &[
            "information_schema.tables",
            "information_schema.columns",
            "information_schema.table_constraints",
            "information_schema.key_column_usage",
            "information_schema.views",
            "pg_indexes",
            "pg_catalog.pg_indexes",
        ],
        Dialect::MySql => &[
            "information_schema.tables",
            "information_schema.columns",
            "information_schema.statistics",
            "information_schema.table_constraints",
            "information_schema.key_column_usage",
            "information_schema.views",
        ],
    }
}

/// True when `relation` is a catalog relation a step may read.
pub fn is_catalog(dialect: Dialect, relation: &ObjectName) -> bool {
    let written: Vec<String> = relation
        .0
        .iter()
        .map(|part| {
            part.as_ident()
                .map_or_else(|| part.to_string(), |i| i.value.clone())
                .to_lowercase()
        })
        .collect();
    let written = written.join(".");
    catalog_relations(dialect).contains(&written.as_str())
}

/// Functions that reach outside the database or interfere with the host, per dialect.
pub fn denied_function(dialect: Dialect, name: &str) -> Option<String> {
    let name = name.rsplit('.').next().unwrap_or(name).trim_matches('"');
    let outside = match dialect {
        Dialect::Sqlite => {
            matches!(
                name,
                "load_extension" | "readfile" | "writefile" | "edit" | "fts3_tokenizer"
            )
        }
        Dialect::Postgres => {
            name.starts_with("pg_read_")
                || name.starts_with("pg_ls_")
                || name.starts_with("lo_")
                || name.starts_with("dblink")
                || name.starts_with("pg_advisory")
                || name.starts_with("pg_try_advisory")
                || matches!(
                    name,
                    "pg_stat_file"
                        | "pg_file_write"
                        | "pg_terminate_backend"
                        | "pg_cancel_backend"
                        | "pg_reload_conf"
                        | "pg_rotate_logfile"
                        | "pg_sleep"
                        | "pg_sleep_for"
                        | "pg_sleep_until"
                        | "set_config"
                        | "pg_switch_wal"
                        | "pg_promote"
                        | "query_to_xml"
                        | "query_to_xml_and_xmlschema"
                        | "table_to_xml"
                        | "cursor_to_xml"
                        | "database_to_xml"
                        | "schema_to_xml"
                        | "pg_import_system_collations"
                )
        }
        Dialect::MySql => matches!(
            name,
            "load_file"
                | "sys_exec"
                | "sys_eval"
                | "sleep"
                | "benchmark"
                | "get_lock"
                | "release_lock"
                | "release_all_locks"
                | "is_free_lock"
                | "is_used_lock"
                | "master_pos_wait"
                | "source_pos_wait"
        ),
    };
    outside.then(|| {
        format!("the function `{name}` reaches outside the database or interferes with the host")
    })
}

/// Checks a PRAGMA against the safe list.
pub fn check_pragma(
    dialect: Dialect,
    name: &ObjectName,
    _value: Option<&ValueWithSpan>,
) -> Result<(), String> {
    if dialect != Dialect::Sqlite {
        return Err("PRAGMA is not a statement of this database".into());
    }
    let parts: Vec<String> = name.0.iter().map(|part| part.to_string()).collect();
    check_pragma_name(&parts)
}

/// Checks a PRAGMA's (possibly schema-qualified) name against the safe list.
pub fn check_pragma_name(parts: &[String]) -> Result<(), String> {
    let pragma = parts.last().map(|p| p.to_lowercase()).unwrap_or_default();
    if parts.len() > 1 && !parts[0].eq_ignore_ascii_case("main") {
        return Err(format!(
            "PRAGMA `{}` targets another schema",
            parts.join(".")
        ));
    }
    if SAFE_PRAGMAS.contains(&pragma.as_str()) {
        Ok(())
    } else {
        Err(format!(
            "PRAGMA {pragma} is not allowed; a step may use only {}",
            SAFE_PRAGMAS.join(", ")
        ))
    }
}

/// Why a statement kind outside the allowed set is refused.
pub fn not_allowed(statement: &Statement) -> String {
    let why = match statement {
        Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Savepoint { .. }
        | Statement::ReleaseSavepoint { .. } => {
            "transaction control belongs to the host, which runs each step in its own transaction"
        }
        Statement::AttachDatabase { .. }
        | Statement::AttachDuckDBDatabase { .. }
        | Statement::DetachDuckDBDatabase { .. } => "attaching databases reaches outside this one",
        Statement::Set(_) | Statement::Reset(_) | Statement::AlterSession { .. } => {
            "changing session or server settings is the host's business"
        }
        Statement::Grant(_)
        | Statement::Deny(_)
        | Statement::Revoke(_)
        | Statement::CreateRole(_)
        | Statement::AlterRole { .. }
        | Statement::CreateUser(_)
        | Statement::AlterUser(_) => "privileges, roles and users are the host's business",
        Statement::CreateExtension(_) | Statement::DropExtension(_) | Statement::Install { .. } => {
            "extensions load code into the database server"
        }
        Statement::CreateFunction(_)
        | Statement::CreateProcedure { .. }
        | Statement::AlterFunction(_)
        | Statement::DropFunction(_)
        | Statement::DropProcedure { .. }
        | Statement::Call(_)
        | Statement::Execute { .. }
        | Statement::Prepare { .. } => "stored and dynamic code runs outside the policy",
        Statement::Copy { .. } | Statement::LoadData { .. } | Statement::Unload { .. } => {
            "COPY and LOAD DATA read or write files and programs"
        }
        Statement::Vacuum(_) => "VACUUM rewrites the whole database",
        Statement::CreateDatabase { .. } | Statement::CreateSchema { .. } | Statement::Use(_) => {
            "databases and schemas are the host's business"
        }
        Statement::LockTables { .. } | Statement::UnlockTables | Statement::Lock(_) => {
            "table locks interfere with the host's transaction"
        }
        Statement::Kill { .. } | Statement::Flush { .. } => {
            "server administration is the host's business"
        }
        _ => "this kind of statement is not allowed in a migration",
    };
    let kind = statement.to_string();
    let kind: String = kind
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    format!("{kind}: {why}")
}

/// The name of a PRAGMA when `sql` is exactly one `PRAGMA [schema.]name [= word | (word)]`.
pub fn lone_pragma(sql: &str) -> Option<Vec<String>> {
    let sql = sql.trim().trim_end_matches(';').trim_end();
    let (keyword, rest) = sql.split_once(char::is_whitespace)?;
    if !keyword.eq_ignore_ascii_case("pragma") {
        return None;
    }
    let word = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let (name, value) = match rest.split_once('=') {
        Some((name, value)) => (name.trim(), Some(value.trim())),
        None => match rest.split_once('(') {
            Some((name, value)) => (name.trim(), Some(value.strip_suffix(')')?.trim())),
            None => (rest.trim(), None),
        },
    };
    let parts: Vec<String> = name.split('.').map(str::to_owned).collect();
    let valid = parts.iter().all(|p| word(p))
        && parts.len() <= 2
        && value.is_none_or(|v| word(v.trim_matches('\'')));
    valid.then_some(parts)
}
