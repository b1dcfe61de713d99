//! A module's life beyond upgrades: activation, deactivation, uninstallation, and the
//! maintenance flag an embedding application reads while modules change.

use crate::outcome::with_causes;
use std::time::SystemTime;

use wasmig_manifest::{Artifact, Package};
use wasmig_runtime::NoJournal;
use wasmig_store::{
    EntryKind, HistoryEntry, INSTALL_STEP, JobRecord, Ledger, ModuleRecord, Outcome, timestamp,
};

use crate::{Error, Event, FailureKind, Host, Result, UninstallRefusal, UpgradeReport};

impl Host {
    /// Activates `module`: an inactive module becomes active again, then it is upgraded (the
    /// install path on its first activation, its pending steps if it is at an older version).
    pub async fn activate(
        &self,
        module: &str,
        on_event: impl FnMut(Event<'_>),
    ) -> Result<UpgradeReport> {
        let package = self.select_one(module)?;
        self.locked(async {
            wasmig_store::ensure_schema(&self.db).await?;
            let mut tx = self.db.begin().await?;
            wasmig_store::set_active(&mut tx, module, true).await?;
            tx.commit().await?;
            self.run_recorded(std::slice::from_ref(&package), false, on_event)
                .await
        })
        .await
    }

    /// Deactivates `module`: upgrades leave it alone until it is activated again. Its data and
    /// its stored version stay as they are.
    pub async fn deactivate(&self, module: &str) -> Result<()> {
        self.locked(async {
            wasmig_store::ensure_schema(&self.db).await?;
            let mut tx = self.db.begin().await?;
            wasmig_store::set_active(&mut tx, module, false).await?;
            Ok(tx.commit().await?)
        })
        .await
    }

    /// Runs the uninstall step `module` ships (`uninstall.wasm` or `.sql`), in one transaction
    /// through the module's policy, then forgets the module (its history stays) and leaves it
    /// inactive so that no upgrade installs it again unasked. Refused when the package ships
    /// no uninstall step, when the module is not installed, has an unfinished step, or when an
    /// installed module depends on it.
    pub async fn uninstall(&self, module: &str) -> Result<()> {
        let mut modules = self.select(&[])?;
        if let Some(error) = modules.take_unreadable(module) {
            return Err(error.into());
        }
        let packages = modules.packages;
        let Some(package) = packages.iter().find(|p| p.manifest.name == module) else {
            return Err(Error::UnknownModule {
                name: module.to_owned(),
                dir: self.modules_dir.clone(),
            });
        };
        let Some(artifact) = &package.uninstall else {
            return Err(refused(module, UninstallRefusal::NoUninstallStep));
        };
        self.locked(async {
            wasmig_store::ensure_schema(&self.db).await?;
            let record = self.uninstallable(module, &packages).await?;
            self.run_uninstall(package, artifact, &record).await
        })
        .await
    }

    /// The ledger row of `module` when it may be uninstalled now: installed, nothing
    /// unfinished, no active module depending on it, on a database that enforces the policy
    /// (or where the operator accepted the policy alone).
    async fn uninstallable(&self, module: &str, packages: &[Package]) -> Result<ModuleRecord> {
        let ledger = self.ledger().await?;
        let Some(record) = ledger.get(module).and_then(|r| r.record.clone()) else {
            return Err(refused(module, UninstallRefusal::NotInstalled));
        };
        if record.status.is_unfinished() {
            return Err(refused(module, UninstallRefusal::Unfinished));
        }
        let installed = |name: &str| ledger.get(name).is_some_and(|r| r.record.is_some());
        if let Some(dependent) = packages
            .iter()
            .filter(|p| installed(&p.manifest.name) && p.manifest.depends.contains_key(module))
            .find(|p| !ledger[&p.manifest.name].inactive)
        {
            let dependent = dependent.manifest.name.clone();
            return Err(refused(module, UninstallRefusal::Dependent { dependent }));
        }
        if let Some(refusal) = self.unenforced().await? {
            return Err(Error::Refused {
                module: module.to_owned(),
                refusal,
            });
        }
        Ok(record)
    }

    /// Runs the uninstall step in one transaction through the module's policy and records it;
    /// on success the module is forgotten and left inactive.
    async fn run_uninstall(
        &self,
        package: &Package,
        artifact: &Artifact,
        record: &ModuleRecord,
    ) -> Result<()> {
        let manifest = &package.manifest;
        let module = manifest.name.as_str();
        let prepared = crate::run::prepare(&self.runtime, self.db.dialect(), artifact)
            .await
            .map_err(|reason| refused(module, UninstallRefusal::CannotRun { reason }))?;
        let confined = crate::run::Confined {
            db: &self.db,
            runtime: &self.runtime,
            policy: &self.policy,
            manifest,
        };
        let started = SystemTime::now();
        let tx = self.db.begin().await?;
        let from = record.version.as_ref();
        let run = confined
            .run(tx, "uninstall", from, &prepared, Box::new(NoJournal), false)
            .await?;
        let mut entry = HistoryEntry {
            module: module.to_owned(),
            kind: EntryKind::Uninstall,
            step: INSTALL_STEP,
            slug: "uninstall".into(),
            sha256: artifact.sha256(),
            version: manifest.version.clone(),
            started_at: timestamp(started),
            finished_at: timestamp(SystemTime::now()),
            duration_ms: u64::try_from(run.report.duration.as_millis()).unwrap_or(u64::MAX),
            outcome: Outcome::Applied,
            error: None,
        };
        match run.result {
            Ok(()) => {
                let mut tx = run.transaction;
                Ledger::new(&mut tx).mark_uninstalled(&entry).await?;
                Ok(tx.commit().await?)
            }
            Err(e) => {
                run.transaction.rollback().await?;
                entry.error = Some(with_causes(&e));
                let mut tx = self.db.begin().await?;
                Ledger::new(&mut tx).mark_failed(&entry, false).await?;
                tx.commit().await?;
                let kind = Box::new(FailureKind::from(&e));
                let reason = with_causes(&e);
                Err(refused(module, UninstallRefusal::Failed { kind, reason }))
            }
        }
    }

    /// True while an upgrade started with [`Host::set_maintenance`] runs (or after one was
    /// killed, until the flag is cleared): the embedding application should hold requests.
    pub async fn is_under_maintenance(&self) -> Result<bool> {
        Ok(self.maintenance_since().await?.is_some())
    }

    /// Since when and why the database is under maintenance, if it is.
    pub async fn maintenance_since(&self) -> Result<Option<(String, String)>> {
        Ok(wasmig_store::maintenance(&self.db).await?)
    }

    /// Sets (with a reason) or clears the maintenance flag by hand.
    pub async fn set_maintenance_flag(&self, reason: Option<&str>) -> Result<()> {
        wasmig_store::ensure_schema(&self.db).await?;
        Ok(wasmig_store::set_maintenance(&self.db, reason).await?)
    }

    /// The last upgrade job a server recorded (see [`Host::record_last_job`]), if any.
    pub async fn last_job(&self) -> Result<Option<JobRecord>> {
        Ok(wasmig_store::last_job(&self.db).await?)
    }

    /// Keeps `job` in the ledger as the last job, in place of the one before.
    pub async fn record_last_job(&self, job: &JobRecord) -> Result<()> {
        Ok(wasmig_store::record_last_job(&self.db, job).await?)
    }
}

/// Why a lifecycle operation on `module` cannot be done.
fn refused(module: &str, reason: UninstallRefusal) -> Error {
    Error::Lifecycle {
        module: module.to_owned(),
        reason,
    }
}

/// The maintenance flag raised for a run: lowered by [`RaisedFlag::lower`] or, when the run's
/// future is dropped before (an embedding application gave up on it), by a task spawned on
/// drop. Only this flag is lowered, not one a later run raised meanwhile.
pub(crate) struct RaisedFlag {
    db: wasmig_db::Database,
    /// When the flag was raised; `None` once lowered.
    since: Option<String>,
}

impl RaisedFlag {
    /// Raises the flag with `reason`.
    pub(crate) async fn raise(db: &wasmig_db::Database, reason: &str) -> Result<Self> {
        let since = wasmig_store::raise_maintenance(db, reason).await?;
        Ok(RaisedFlag {
            db: db.clone(),
            since: Some(since),
        })
    }

    /// Lowers the flag.
    pub(crate) async fn lower(mut self) -> Result<()> {
        let since = self.since.take();
        Ok(wasmig_store::lower_maintenance(&self.db, since.as_deref()).await?)
    }
}

impl Drop for RaisedFlag {
    fn drop(&mut self) {
        let (Some(since), Ok(runtime)) = (self.since.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let db = self.db.clone();
        runtime.spawn(async move {
            if let Err(error) = wasmig_store::lower_maintenance(&db, Some(&since)).await {
                tracing::warn!(%error, "could not clear the maintenance flag of an abandoned run");
            }
        });
    }
}
