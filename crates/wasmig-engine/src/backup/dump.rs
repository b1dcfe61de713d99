//! PostgreSQL and MySQL/MariaDB backups, made with the server's own tools.
//!
//! A backup is a directory: `modules.txt` (the modules it was taken for), `tables.sql` (their
//! tables, schema and rows, as `pg_dump`/`mysqldump` wrote them) and `ledger.sql` (their ledger
//! rows as INSERT statements). Restoring writes `restore.sql` beside them: drop what the modules
//! own now, replace their ledger rows, then the dump; `psql` runs it in one transaction,
//! `mysql` statement by statement (MySQL commits DDL as it goes).

use std::fs;
use std::path::Path;

use wasmig_db::{Database, Dialect, Value};

use super::{DROP_ORDER, quote};
use crate::{Error, Result};

const MODULES: &str = "modules.txt";
const TABLES: &str = "tables.sql";
const LEDGER: &str = "ledger.sql";
const RESTORE: &str = "restore.sql";

/// The ledger tables that hold rows of a module, in the order they are restored.
const LEDGER_TABLES: [&str; 2] = ["wasmig_modules", "wasmig_objects"];

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::Backup(format!("{}: {e}", path.display()))
}

/// Dumps the tables `modules` own and their ledger rows into the new directory `location`.
pub(super) async fn backup(db: &Database, modules: &[String], location: &Path) -> Result<()> {
    fs::create_dir_all(location).map_err(io(location))?;
    let mut tx = db.begin().await?;
    let mut tables = Vec::new();
    for module in modules {
        let owned = wasmig_store::objects_of(&mut tx, module).await?;
        tables.extend(
            owned
                .into_iter()
                .filter(|(_, kind)| kind == "table")
                .map(|(name, _)| name),
        );
    }
    let mut ledger = String::new();
    for table in LEDGER_TABLES {
        for module in modules {
            let rows = tx
                .query(
                    &format!(
                        "SELECT * FROM {table} WHERE module = {}",
                        literal(db.dialect(), &module.as_str().into())
                    ),
                    &[],
                )
                .await?;
            for row in &rows.rows {
                ledger.push_str(&insert(db.dialect(), table, &rows.columns, row));
            }
        }
    }
    tx.rollback().await?;
    let tables_path = location.join(TABLES);
    if tables.is_empty() {
        fs::write(&tables_path, "").map_err(io(&tables_path))?;
    } else {
        super::tools::dump_tables(db, &tables, &tables_path).await?;
    }
    let ledger_path = location.join(LEDGER);
    fs::write(&ledger_path, ledger).map_err(io(&ledger_path))?;
    let modules_path = location.join(MODULES);
    fs::write(&modules_path, modules.join("\n") + "\n").map_err(io(&modules_path))?;
    Ok(())
}

/// Restores the modules of the backup directory `location`; returns them.
pub(super) async fn restore(db: &Database, location: &Path) -> Result<Vec<String>> {
    let read = |name: &str| {
        let path = location.join(name);
        fs::read_to_string(&path).map_err(|e| {
            Error::Backup(format!(
                "{} is not a wasmig backup ({name}: {e})",
                location.display()
            ))
        })
    };
    let modules: Vec<String> = read(MODULES)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    let (tables, ledger) = (read(TABLES)?, read(LEDGER)?);
    let dialect = db.dialect();
    let mut script = String::new();
    let mut tx = db.begin().await?;
    for module in &modules {
        let owned = wasmig_store::objects_of(&mut tx, module).await?;
        for kind in DROP_ORDER {
            for (name, _) in owned.iter().filter(|(_, k)| k == kind) {
                script.push_str(&drop_statement(dialect, kind, name));
            }
        }
        let module = literal(dialect, &module.as_str().into());
        // The schema recorded for drift goes too (as `forget_module` does on SQLite): the
        // restored objects are the reference until the module's next upgrade records anew.
        for table in LEDGER_TABLES
            .iter()
            .chain(&["wasmig_journal", "wasmig_schemas"])
        {
            script.push_str(&format!("DELETE FROM {table} WHERE module = {module};\n"));
        }
    }
    tx.rollback().await?;
    // The ledger rows go before the dump, which may change the session (search_path).
    script.push_str(&ledger);
    script.push_str(&tables);
    let script_path = location.join(RESTORE);
    fs::write(&script_path, script).map_err(io(&script_path))?;
    super::tools::run_script(db, &script_path).await?;
    Ok(modules)
}

/// Drops a view or a table (its indexes and triggers go with it); nothing for other kinds.
fn drop_statement(dialect: Dialect, kind: &str, name: &str) -> String {
    if !matches!(kind, "view" | "table") {
        return String::new();
    }
    let cascade = if dialect == Dialect::Postgres {
        " CASCADE"
    } else {
        ""
    };
    format!(
        "DROP {} IF EXISTS {}{cascade};\n",
        kind.to_uppercase(),
        quote(dialect, name)
    )
}

fn insert(dialect: Dialect, table: &str, columns: &[String], row: &[Value]) -> String {
    let columns: Vec<String> = columns.iter().map(|c| quote(dialect, c)).collect();
    let values: Vec<String> = row.iter().map(|v| literal(dialect, v)).collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({});\n",
        columns.join(", "),
        values.join(", ")
    )
}

/// A value as a SQL literal of `dialect`.
fn literal(dialect: Dialect, value: &Value) -> String {
    match value {
        Value::Null => "NULL".to_owned(),
        Value::Integer(v) => v.to_string(),
        Value::Real(v) => format!("{v:?}"),
        Value::Text(v) => {
            let escaped = v.replace('\'', "''");
            match dialect {
                // MySQL reads backslashes in strings as escapes.
                Dialect::MySql => format!("'{}'", escaped.replace('\\', "\\\\")),
                _ => format!("'{escaped}'"),
            }
        }
        Value::Blob(v) => {
            let hex: String = v.iter().map(|b| format!("{b:02x}")).collect();
            match dialect {
                Dialect::Postgres => format!("'\\x{hex}'::bytea"),
                _ => format!("X'{hex}'"),
            }
        }
    }
}
