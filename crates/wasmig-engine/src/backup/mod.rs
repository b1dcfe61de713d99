//! Backups taken before an upgrade, and restoring the modules they hold.
//!
//! A backup notes the modules it was taken for. Restoring replaces every object those modules
//! own now with the objects they owned in the backup, rows included, and their ledger rows with
//! the backup's; other modules and the application's own tables are left as they are.
//!
//! - SQLite: `VACUUM INTO` a file; restored in one transaction (see [`sqlite`]).
//! - PostgreSQL, MySQL/MariaDB: a directory holding the modules' tables as dumped by the
//!   server's tool (`pg_dump`, `mysqldump`) and their ledger rows; restored by the server's
//!   client (`psql` in one transaction; `mysql`, where DDL commits as it goes) (see [`dump`]).

mod dump;
mod sqlite;
mod tools;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;
use wasmig_db::Dialect;
use wasmig_store::{HistoryEntry, INSTALL_STEP, Outcome, timestamp};

use crate::{Error, Host, Result};

/// A backup that was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Backup {
    /// Where it is (a file on SQLite, a directory elsewhere): what `wasmig restore` takes.
    pub location: PathBuf,
    /// The modules it was taken for.
    pub modules: Vec<String>,
}

impl Host {
    /// Backs up the modules named (all when empty) into a new file or directory in `dir`.
    pub async fn backup(&self, modules: &[String], dir: &Path) -> Result<Backup> {
        let names: Vec<String> = self
            .select(modules)?
            .packages
            .into_iter()
            .map(|p| p.manifest.name)
            .collect();
        self.locked(async { self.backup_locked(&names, dir).await })
            .await
    }

    /// [`Host::backup`] while the caller holds the upgrade lock.
    pub(crate) async fn backup_locked(&self, modules: &[String], dir: &Path) -> Result<Backup> {
        wasmig_store::ensure_schema(&self.db).await?;
        let stamp = timestamp(SystemTime::now()).replace([':', '-', '.'], "");
        let dialect = self.db.dialect();
        let location = dir.join(match dialect {
            Dialect::Sqlite => format!("wasmig-backup-{stamp}.db"),
            _ => format!("wasmig-backup-{stamp}"),
        });
        if location.exists() {
            return Err(Error::Backup(format!(
                "{} already exists",
                location.display()
            )));
        }
        match dialect {
            Dialect::Sqlite => sqlite::backup(&self.db, modules, &location).await?,
            _ => dump::backup(&self.db, modules, &location).await?,
        }
        Ok(Backup {
            location,
            modules: modules.to_vec(),
        })
    }

    /// Brings back the modules of the backup at `location`: their objects (schema and rows)
    /// and their ledger rows as they were when it was taken. Returns the modules restored.
    pub async fn restore(&self, location: &Path) -> Result<Vec<String>> {
        if !location.exists() {
            return Err(Error::Backup(format!(
                "no backup at {}",
                location.display()
            )));
        }
        self.locked(async {
            wasmig_store::ensure_schema(&self.db).await?;
            let modules = match self.db.dialect() {
                Dialect::Sqlite => sqlite::restore(&self.db, location).await?,
                _ => dump::restore(&self.db, location).await?,
            };
            let packages = wasmig_manifest::load_modules(&self.modules_dir)?.packages;
            let mut tx = self.db.begin().await?;
            for module in &modules {
                let now = timestamp(SystemTime::now());
                let version = packages
                    .iter()
                    .find(|p| p.manifest.name == *module)
                    .map_or_else(
                        || semver::Version::new(0, 0, 0),
                        |p| p.manifest.version.clone(),
                    );
                let entry = HistoryEntry {
                    module: module.clone(),
                    kind: wasmig_store::EntryKind::Restore,
                    step: INSTALL_STEP,
                    slug: "restore".into(),
                    sha256: String::new(),
                    version,
                    started_at: now.clone(),
                    finished_at: now,
                    duration_ms: 0,
                    outcome: Outcome::Restored,
                    error: Some(format!("restored from {}", location.display())),
                };
                wasmig_store::Ledger::new(&mut tx)
                    .mark_restored(&entry)
                    .await?;
            }
            tx.commit().await?;
            Ok(modules)
        })
        .await
    }
}

/// The kinds of object, in the order they are dropped (dependents first).
const DROP_ORDER: [&str; 4] = ["view", "trigger", "index", "table"];

/// A name quoted for `dialect`.
fn quote(dialect: Dialect, name: &str) -> String {
    dialect.quote(name)
}
