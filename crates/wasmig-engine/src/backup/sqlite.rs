//! SQLite backups: `VACUUM INTO` a file that also names the modules it was taken for;
//! restored in one transaction of the live database, reading the backup through a
//! connection of its own.

use std::path::Path;

use wasmig_db::{Database, Transaction, Value};

use super::DROP_ORDER;

/// A SQLite identifier, quoted.
fn quote(name: &str) -> String {
    super::quote(wasmig_db::Dialect::Sqlite, name)
}
use crate::{Error, Result};

/// The table inside a backup that names the modules it was taken for.
const MANIFEST: &str = "wasmig_backup";

/// Copies the database to `location` and notes `modules` in the copy.
pub(super) async fn backup(db: &Database, modules: &[String], location: &Path) -> Result<()> {
    let path = location.to_string_lossy().into_owned();
    db.execute("VACUUM INTO ?", &[path.as_str().into()]).await?;
    let copy = Database::connect(&format!("sqlite://{path}")).await?;
    let mut tx = copy.begin().await?;
    tx.execute(
        &format!("CREATE TABLE {MANIFEST} (module TEXT NOT NULL PRIMARY KEY)"),
        &[],
    )
    .await?;
    for module in modules {
        tx.execute(
            &format!("INSERT INTO {MANIFEST} (module) VALUES (?)"),
            &[module.as_str().into()],
        )
        .await?;
    }
    tx.commit().await?;
    copy.close().await;
    Ok(())
}

/// Restores the modules of the backup file at `location`; returns them.
pub(super) async fn restore(db: &Database, location: &Path) -> Result<Vec<String>> {
    let backup = Database::connect(&format!("sqlite://{}?mode=ro", location.display())).await?;
    let modules: Vec<String> = backup
        .query(
            &format!("SELECT module FROM {MANIFEST} ORDER BY module"),
            &[],
        )
        .await
        .map_err(|e| {
            Error::Backup(format!(
                "{} is not a wasmig backup: {e}",
                location.display()
            ))
        })?
        .rows
        .iter()
        .filter_map(|row| row.first().and_then(Value::as_text).map(str::to_owned))
        .collect();
    let mut tx = db.begin().await?;
    tx.execute("PRAGMA defer_foreign_keys = ON", &[]).await?;
    for module in &modules {
        let current = wasmig_store::objects_of(&mut tx, module).await?;
        drop_objects(&mut tx, &current).await?;
        wasmig_store::forget_module(&mut tx, module).await?;
        recreate(&mut tx, &backup, module).await?;
        for table in ["wasmig_modules", "wasmig_objects"] {
            copy_rows(&mut tx, &backup, table, module).await?;
        }
    }
    tx.commit().await?;
    backup.close().await;
    Ok(modules)
}

fn pairs(rows: &[Vec<Value>]) -> Vec<(String, String)> {
    rows.iter()
        .filter_map(|row| match (row.first(), row.get(1)) {
            (Some(a), Some(b)) => Some((a.as_text()?.to_owned(), b.as_text()?.to_owned())),
            _ => None,
        })
        .collect()
}

/// Drops views, triggers, indexes, then tables.
async fn drop_objects(tx: &mut Transaction, objects: &[(String, String)]) -> Result<()> {
    for kind in DROP_ORDER {
        for (name, _) in objects.iter().filter(|(_, k)| k == kind) {
            let sql = format!("DROP {} IF EXISTS {}", kind.to_uppercase(), quote(name));
            tx.execute(&sql, &[]).await?;
        }
    }
    Ok(())
}

/// Creates `module`'s objects as the backup has them: tables with their rows, then indexes,
/// triggers and views.
async fn recreate(tx: &mut Transaction, backup: &Database, module: &str) -> Result<()> {
    let owned = pairs(
        &backup
            .query(
                "SELECT o.name, m.type FROM wasmig_objects o JOIN sqlite_master m \
                 ON m.name = o.name WHERE o.module = ? AND m.sql IS NOT NULL",
                &[module.into()],
            )
            .await?
            .rows,
    );
    for kind in ["table", "index", "trigger", "view"] {
        for (name, _) in owned.iter().filter(|(_, k)| k == kind) {
            let definition = backup
                .query(
                    "SELECT sql FROM sqlite_master WHERE name = ?",
                    &[name.as_str().into()],
                )
                .await?;
            if let Some(sql) = definition.rows.first().and_then(|r| r[0].as_text()) {
                tx.execute(sql, &[]).await?;
            }
            if kind == "table" {
                let rows = backup
                    .query(&format!("SELECT * FROM {}", quote(name)), &[])
                    .await?;
                insert_rows(tx, name, &rows.columns, &rows.rows).await?;
            }
        }
    }
    Ok(())
}

/// Copies `module`'s rows of the ledger table `table` from the backup.
async fn copy_rows(
    tx: &mut Transaction,
    backup: &Database,
    table: &str,
    module: &str,
) -> Result<()> {
    let rows = backup
        .query(
            &format!("SELECT * FROM {table} WHERE module = ?"),
            &[module.into()],
        )
        .await?;
    insert_rows(tx, table, &rows.columns, &rows.rows).await
}

async fn insert_rows(
    tx: &mut Transaction,
    table: &str,
    columns: &[String],
    rows: &[Vec<Value>],
) -> Result<()> {
    let names: Vec<String> = columns.iter().map(|c| quote(c)).collect();
    let marks = vec!["?"; columns.len()].join(", ");
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({marks})",
        quote(table),
        names.join(", ")
    );
    for row in rows {
        tx.execute(&sql, row).await?;
    }
    Ok(())
}
