//! The wasmig engine: what a host application embeds.
//!
//! A [`Host`] joins a database, a directory of module packages and the wasmtime [`Runtime`].
//! [`Host::status`] compares every module's header with the ledger; [`Host::upgrade`] runs what
//! is pending, each step in its own transaction together with its ledger row.
//!
//! ```no_run
//! # async fn example() -> Result<(), wasmig_engine::Error> {
//! use wasmig_engine::{Host, Limits};
//!
//! let host = Host::open("sqlite://app.db", "modules", Limits::default()).await?;
//! let report = host.upgrade(&[], |event| println!("{event:?}")).await?;
//! for failure in report.failures() {
//!     eprintln!("{failure}");
//! }
//! # Ok(()) }
//! ```

mod backup;
mod deps;
mod drift;
mod dry_run;
mod gate;
mod holders;
mod lifecycle;
mod outcome;
mod paths;
mod plan;
mod run;
mod scratch;
mod security;
mod status_report;
mod verify;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use semver::Version;
use serde::Serialize;
pub use wasmig_db::{Database, Pool};
use wasmig_manifest::{Modules, Package, Unreadable};

pub use backup::Backup;
pub use drift::Drift;
pub use dry_run::{DryRun, ModuleDryRun, StatementPreview, StepPreview};
pub use outcome::{FailureKind, Refusal, RepairRefusal, UninstallRefusal, with_causes};
pub use paths::{PathCheck, PathsReport, verify_paths};
pub use plan::{Action, ModulePlan, Options, Recorded, plan_absent, plan_module, plan_unreadable};
pub use scratch::{ScratchDatabase, ScratchServer};
pub use security::Enforcement;
pub use status_report::{Maintenance, StatusReport};
pub use verify::{Check, Verification, verify_package};
pub use wasmig_db::{Denial, Rule};
pub use wasmig_manifest::Kind;
pub use wasmig_runtime::{CacheError, ComponentCache, HOST_API_VERSION, Limits, Runtime, Stop};
use wasmig_store::Ledger;
pub use wasmig_store::{EntryKind, HistoryEntry, JobRecord, ModuleStatus, Outcome, timestamp};

/// How a host runs: the sandbox's limits and the operator's decisions, in one place (see
/// [`Host::open_with`]). The default is what [`Host::open`] gives.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The limits every step runs under.
    pub limits: Limits,
    /// How long to wait for another upgrader to let go of the lock (default: not at all).
    pub lock_wait: Duration,
    /// Requires every object a module creates to be named `<module>_…`.
    pub require_prefix: bool,
    /// Lets steps run where only the SQL policy checks them (see [`Host::enforcement`]).
    pub policy_only: bool,
    /// PostgreSQL extensions modules may ask for.
    pub allowed_extensions: Vec<String>,
    /// Runs modules whose `host-api` range excludes this host.
    pub force: bool,
    /// Sets the maintenance flag while steps run.
    pub maintenance: bool,
    /// Backs the modules about to run up into this directory first.
    pub backup_dir: Option<PathBuf>,
    /// Keeps compiled components between runs (default: none; the CLI uses
    /// [`ComponentCache::default_dir`]).
    pub component_cache: Option<ComponentCache>,
    /// Runs the steps of modules whose objects changed outside their steps since their last
    /// upgrade (see [`Host::drift`]); the acceptance is recorded in the history.
    pub accept_drift: bool,
}

/// Why the engine could not do what it was asked. New kinds may be added: match with a
/// wildcard arm.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A module package is malformed.
    #[error(transparent)]
    Package(#[from] wasmig_manifest::Error),
    /// The ledger could not be read or written.
    #[error(transparent)]
    Ledger(#[from] wasmig_store::Error),
    /// The database failed outside a step.
    #[error(transparent)]
    Database(#[from] wasmig_db::Error),
    /// The sandbox could not be created.
    #[error(transparent)]
    Runtime(#[from] wasmig_runtime::Error),
    /// A repair was asked for that does not fit the module's state.
    #[error("cannot repair {module}: {reason}")]
    Repair {
        /// The module.
        module: String,
        /// Why not.
        reason: RepairRefusal,
    },
    /// A lifecycle operation (uninstall) cannot be done.
    #[error("{module}: {reason}")]
    Lifecycle {
        /// The module.
        module: String,
        /// Why not.
        reason: UninstallRefusal,
    },
    /// The module is refused for what was asked; nothing of it ran.
    #[error("{module}: {refusal}")]
    Refused {
        /// The module.
        module: String,
        /// Why.
        refusal: Refusal,
    },
    /// A backup could not be taken or restored.
    #[error("backup: {0}")]
    Backup(String),
    /// A scratch file or directory (of `verify --paths`) could not be read or written.
    #[error("{}", .path.display())]
    Scratch {
        /// The file or directory.
        path: PathBuf,
        /// What failed.
        #[source]
        cause: std::io::Error,
    },
    /// An operator named a module that is not in the modules directory.
    #[error("no module named `{name}` in {}", .dir.display())]
    UnknownModule {
        /// The name asked for.
        name: String,
        /// The modules directory.
        dir: PathBuf,
    },
}

impl Error {
    /// True when another upgrader holds the database's upgrade lock.
    pub fn is_locked(&self) -> bool {
        matches!(self, Error::Database(wasmig_db::Error::Locked { .. }))
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Progress of an upgrade, reported as it happens. New kinds of event may be added: match
/// with a wildcard arm.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A backup was written before anything ran.
    BackedUp {
        /// Where it is.
        location: &'a Path,
    },
    /// A module is about to be upgraded according to `plan` (also sent for modules with
    /// nothing to do or refused, so a caller sees every module once).
    Module {
        /// The module's plan.
        plan: &'a ModulePlan,
    },
    /// A component is about to run.
    StepStarted {
        /// The module.
        module: &'a str,
        /// `install` or `NNN_slug`.
        step: &'a str,
    },
    /// A component finished; `error` says why when it failed.
    StepFinished {
        /// The module.
        module: &'a str,
        /// `install` or `NNN_slug`.
        step: &'a str,
        /// How long it ran.
        duration: Duration,
        /// Why it failed, when it did.
        error: Option<&'a str>,
    },
}

/// Why a module was not brought to its header's version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The module.
    pub module: String,
    /// The step that failed; `None` when the module was refused before anything ran.
    pub step: Option<String>,
    /// What kind of failure it was.
    #[serde(flatten)]
    pub kind: FailureKind,
    /// What went wrong, in words.
    pub reason: String,
    /// True when the module is left with an unfinished step (statements of the failed step
    /// had committed, or it was unfinished before): a resume replays it, a repair settles
    /// it by hand.
    pub unfinished: bool,
}

impl Failure {
    /// The failure of a module the planner refused: nothing of it ran.
    pub fn refused(module: &str, refusal: Refusal) -> Self {
        Failure {
            module: module.to_owned(),
            step: None,
            reason: refusal.to_string(),
            kind: FailureKind::Refused { refusal },
            unfinished: false,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.step {
            Some(step) => write!(f, "{}: step {step} failed: {}", self.module, self.reason),
            None => write!(f, "{}: {}", self.module, self.reason),
        }
    }
}

/// What an upgrade did to one module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleReport {
    /// The module.
    pub module: String,
    /// The version before the upgrade.
    pub from: Option<Version>,
    /// The version the database is at now (`None`: still not installed).
    pub to: Option<Version>,
    /// The components that ran and committed, in order.
    pub applied: Vec<String>,
    /// Why the module stopped short, when it did.
    pub failure: Option<Failure>,
}

/// What an upgrade did, module by module.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UpgradeReport {
    /// One report per module considered, in upgrade order.
    pub modules: Vec<ModuleReport>,
}

impl UpgradeReport {
    /// The modules that did not reach their header's version.
    pub fn failures(&self) -> impl Iterator<Item = &Failure> {
        self.modules.iter().filter_map(|m| m.failure.as_ref())
    }

    /// True when every module reached its header's version.
    pub fn is_success(&self) -> bool {
        self.failures().next().is_none()
    }
}

/// What [`Host::repair`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "repaired", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Repaired {
    /// The unfinished step was recorded as applied (`applied`) or failed, as asked.
    Settled {
        /// The step (`NNN_slug` or `install`).
        step: String,
        /// True when marked applied, false when marked failed (it runs again).
        applied: bool,
    },
    /// The current checksums of these changed steps were recorded as accepted.
    Accepted {
        /// The steps (`NNN_slug`).
        steps: Vec<String>,
    },
}

/// How an operator settles a step left unfinished, or accepts changed files (see
/// [`Host::repair`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repair {
    /// The step's changes are complete (finished by hand): record it applied.
    MarkApplied(u32),
    /// The step's changes were undone by hand: record it failed, so it runs again.
    MarkFailed(u32),
    /// Applied steps whose files changed since are accepted as they are now: their new
    /// checksums are recorded (nothing runs).
    AcceptChanged,
}

/// A database, a modules directory and the sandbox that runs their migrations.
#[derive(Debug)]
pub struct Host {
    db: Database,
    modules_dir: PathBuf,
    runtime: Runtime,
    lock_wait: Duration,
    policy: gate::PolicySettings,
    options: Options,
    maintenance: bool,
    backup_dir: Option<PathBuf>,
    /// True when the operator accepts steps checked by the SQL policy alone.
    policy_only: bool,
    /// True when the operator accepts drifted modules (see [`Settings::accept_drift`]).
    accept_drift: bool,
}

impl Host {
    /// Connects to `database_url` and serves the modules below `modules_dir`.
    pub async fn open(
        database_url: &str,
        modules_dir: impl Into<PathBuf>,
        limits: Limits,
    ) -> Result<Self> {
        let db = Database::connect(database_url).await?;
        Ok(Host::new(db, modules_dir, Runtime::new(limits)?))
    }

    /// Connects to `database_url` and serves the modules below `modules_dir`, configured by
    /// `settings` (what [`Host::open`] does with default settings and `limits`).
    pub async fn open_with(
        database_url: &str,
        modules_dir: impl Into<PathBuf>,
        settings: Settings,
    ) -> Result<Self> {
        let db = Database::connect(database_url).await?;
        Host::with_settings(db, modules_dir, settings)
    }

    /// Serves the modules below `modules_dir` on an open database, configured by `settings`
    /// (a server makes one host per job from one pool this way).
    pub fn with_settings(
        db: Database,
        modules_dir: impl Into<PathBuf>,
        settings: Settings,
    ) -> Result<Self> {
        let mut host = Host::new(db, modules_dir, Runtime::new(settings.limits)?);
        host.configure(settings);
        Ok(host)
    }

    /// Applies `settings` (their limits apply to runtimes created from them: see
    /// [`Host::open_with`]).
    pub fn configure(&mut self, settings: Settings) {
        let Settings {
            limits: _,
            lock_wait,
            require_prefix,
            policy_only,
            allowed_extensions,
            force,
            maintenance,
            backup_dir,
            component_cache,
            accept_drift,
        } = settings;
        self.accept_drift = accept_drift;
        self.set_lock_wait(lock_wait);
        self.set_require_prefix(require_prefix);
        self.set_policy_only(policy_only);
        self.set_allowed_extensions(allowed_extensions);
        self.set_force(force);
        self.set_maintenance(maintenance);
        self.set_backup_dir(backup_dir);
        self.set_component_cache(component_cache);
    }

    /// Keeps compiled components in `cache` between runs, so that each is compiled once
    /// (default: none).
    pub fn set_component_cache(&mut self, cache: Option<ComponentCache>) {
        self.runtime.set_cache(cache);
    }

    /// The handle that stops a running upgrade: the running step is interrupted and rolled
    /// back, no other step or module starts, and the upgrade returns its report (the
    /// maintenance flag cleared, the lock released).
    /// A stop is final for this host: later upgrades stop at once (open another host to go
    /// on).
    pub fn stop_handle(&self) -> Stop {
        self.runtime.stop_handle()
    }

    /// Serves the modules below `modules_dir` on an open database with a given runtime.
    pub fn new(db: Database, modules_dir: impl Into<PathBuf>, runtime: Runtime) -> Self {
        Host {
            db,
            modules_dir: modules_dir.into(),
            runtime,
            lock_wait: Duration::ZERO,
            policy: gate::PolicySettings::default(),
            options: Options::default(),
            maintenance: false,
            backup_dir: None,
            policy_only: false,
            accept_drift: false,
        }
    }

    /// Makes `upgrade` and `resume` back up the modules they are about to run into `dir`
    /// first (SQLite; see [`Host::backup`]), reported by [`Event::BackedUp`] (default: none).
    pub fn set_backup_dir(&mut self, dir: Option<PathBuf>) {
        self.backup_dir = dir;
    }

    /// Sets the database's maintenance flag while `upgrade` and `resume` run, cleared at the
    /// end even when a step fails (default: off). See [`Host::is_under_maintenance`].
    pub fn set_maintenance(&mut self, on: bool) {
        self.maintenance = on;
    }

    /// Runs modules whose `host-api` range excludes this host (default: they are refused).
    pub fn set_force(&mut self, force: bool) {
        self.options.force = force;
    }

    /// Requires every object a module creates to be named after it (`<module>_…`), on top of
    /// the ownership rules (default: off).
    pub fn set_require_prefix(&mut self, require: bool) {
        self.policy.require_prefix = require;
    }

    /// Extensions a module may ask for with `CREATE EXTENSION IF NOT EXISTS name`
    /// (PostgreSQL); the host creates them with its own rights (default: none).
    pub fn set_allowed_extensions(&mut self, names: impl IntoIterator<Item = String>) {
        self.policy.extensions = names.into_iter().collect();
    }

    /// How long `upgrade`, `resume` and `repair` wait for another upgrader to finish before
    /// they give up (default: not at all).
    pub fn set_lock_wait(&mut self, wait: Duration) {
        self.lock_wait = wait;
    }

    /// Runs `body` holding the upgrade lock, and lets go of it before returning so that the
    /// next command finds it free.
    async fn locked<T>(&self, body: impl Future<Output = Result<T>>) -> Result<T> {
        let lock = self.db.lock(self.lock_wait).await?;
        let outcome = body.await;
        lock.release().await;
        outcome
    }

    /// The database this host upgrades.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The directory the modules are read from.
    pub fn modules_dir(&self) -> &Path {
        &self.modules_dir
    }

    /// Every module of the directory and of the ledger, with what an upgrade would do.
    /// Reads only: the ledger is not created when it does not exist yet.
    pub async fn status(&self) -> Result<Vec<ModulePlan>> {
        // The packages are read from disk while the ledger is read from the database.
        let modules_dir = self.modules_dir.clone();
        let loading =
            tokio::task::spawn_blocking(move || wasmig_manifest::load_modules(&modules_dir));
        let mut ledger = self.ledger().await?;
        let modules = match loading.await {
            Ok(loaded) => loaded?,
            Err(join) => std::panic::resume_unwind(
                join.try_into_panic()
                    .unwrap_or_else(|_| Box::new("reading the modules was cancelled")),
            ),
        };
        let packages = modules.packages;
        let mut plans: Vec<ModulePlan> = packages
            .iter()
            .map(|p| {
                let recorded = ledger.remove(&p.manifest.name).unwrap_or_default();
                plan_module(p, &recorded, self.options)
            })
            .collect();
        plans.extend(modules.unreadable.iter().map(|unreadable| {
            let recorded = ledger.remove(&unreadable.name).unwrap_or_default();
            plan_unreadable(unreadable, &recorded)
        }));
        plans.extend(
            ledger
                .values()
                .filter_map(|r| r.record.as_ref())
                .map(plan_absent),
        );
        deps::block_unmet(&mut plans, &packages);
        plans.sort_by(|a, b| a.module.cmp(&b.module));
        Ok(plans)
    }

    /// Brings the named modules (all when `modules` is empty) to their header's version.
    /// Every module is attempted; a failing one stops at its last good step and is reported.
    /// Holds the database's upgrade lock throughout.
    pub async fn upgrade(
        &self,
        modules: &[String],
        on_event: impl FnMut(Event<'_>),
    ) -> Result<UpgradeReport> {
        self.run(modules, false, on_event).await
    }

    /// Like [`Host::upgrade`], but a module with an unfinished step first replays that step:
    /// statements its journal says committed are skipped (and must be the same statements),
    /// the rest run. Then the module's remaining steps run.
    pub async fn resume(
        &self,
        modules: &[String],
        on_event: impl FnMut(Event<'_>),
    ) -> Result<UpgradeReport> {
        self.run(modules, true, on_event).await
    }

    /// Settles an unfinished step by hand, after the operator checked the schema, or accepts
    /// the current files of applied steps that changed.
    pub async fn repair(&self, module: &str, repair: Repair) -> Result<Repaired> {
        let package = &self.select_one(module)?;
        self.locked(async {
            wasmig_store::ensure_schema(&self.db).await?;
            let mut ledger = self.ledger().await?;
            let refused = |reason: RepairRefusal| Error::Repair {
                module: module.to_owned(),
                reason,
            };
            let recorded = ledger.remove(module).unwrap_or_default();
            let Some(record) = recorded.record.clone() else {
                return Err(refused(RepairRefusal::NeverInstalled));
            };
            if repair == Repair::AcceptChanged {
                let plan = plan_module(package, &recorded, self.options);
                if plan.changed.is_empty() {
                    return Err(refused(RepairRefusal::NothingChanged));
                }
                return self.accept_changed(package, &plan).await;
            }
            if !record.status.is_unfinished() {
                return Err(refused(RepairRefusal::NothingUnfinished {
                    status: record.status,
                }));
            }
            let unfinished = plan::unfinished_step(package, &record);
            let (Repair::MarkApplied(step) | Repair::MarkFailed(step)) = repair else {
                unreachable!("accepting changes returned above");
            };
            let expected = if unfinished == "install" {
                0
            } else {
                record.last_step + 1
            };
            if step != expected {
                return Err(refused(RepairRefusal::NotTheUnfinishedStep {
                    step,
                    unfinished,
                }));
            }
            let applied = matches!(repair, Repair::MarkApplied(_));
            self.settle(package, record, &unfinished, step, applied)
                .await
        })
        .await
    }

    /// Records the unfinished `step` of `record`'s module as applied or failed, as the
    /// operator decided.
    async fn settle(
        &self,
        package: &Package,
        mut record: wasmig_store::ModuleRecord,
        unfinished: &str,
        step: u32,
        applied: bool,
    ) -> Result<Repaired> {
        let now = wasmig_store::timestamp(std::time::SystemTime::now());
        let history = wasmig_store::history(&self.db, Some(&record.module)).await?;
        let last = history.iter().rev().find(|e| e.step == step);
        let mut tx = self.db.begin().await?;
        let mut ledger = Ledger::new(&mut tx);
        if let Some(running) = last.filter(|e| e.outcome == wasmig_store::Outcome::Running) {
            ledger.mark_interrupted(running, &now).await?;
        }
        let (status, note) = match applied {
            true => (ModuleStatus::Ok, "marked applied by `wasmig repair`"),
            false => (ModuleStatus::Failed, "marked failed by `wasmig repair`"),
        };
        let entry = HistoryEntry {
            module: record.module.clone(),
            kind: match step {
                wasmig_store::INSTALL_STEP => wasmig_store::EntryKind::Install,
                _ => wasmig_store::EntryKind::Step,
            },
            step,
            slug: last.map_or_else(|| unfinished.to_owned(), |e| e.slug.clone()),
            sha256: last.map(|e| e.sha256.clone()).unwrap_or_default(),
            version: package.manifest.version.clone(),
            started_at: now.clone(),
            finished_at: now.clone(),
            duration_ms: 0,
            outcome: Outcome::Applied,
            error: Some(note.to_owned()),
        };
        match applied {
            true => ledger.mark_applied(&entry, false).await?,
            false => ledger.mark_failed(&entry, false).await?,
        }
        if applied {
            record.last_step = if step == 0 { package.last_step() } else { step };
            // The package's last step done: the module is at its header's version.
            if record.last_step == package.last_step() {
                record.version = Some(package.manifest.version.clone());
            }
        }
        record.status = status;
        record.updated_at = now;
        ledger.save_module(&record).await?;
        ledger.settle_journal(&record.module, step).await?;
        tx.commit().await?;
        if applied {
            // The operator says the step is done as the database stands: what drift is
            // measured against from now on.
            self.record_schemas(&[&record.module]).await?;
        }
        Ok(Repaired::Settled {
            step: unfinished.to_owned(),
            applied,
        })
    }

    /// Records the current checksums of a module's changed steps, as accepted.
    async fn accept_changed(&self, package: &Package, plan: &ModulePlan) -> Result<Repaired> {
        let now = wasmig_store::timestamp(std::time::SystemTime::now());
        let mut tx = self.db.begin().await?;
        let mut ledger = Ledger::new(&mut tx);
        for step in package
            .steps
            .iter()
            .filter(|s| plan.changed.contains(&s.name()))
        {
            let entry = HistoryEntry {
                module: plan.module.clone(),
                kind: wasmig_store::EntryKind::Step,
                step: step.number,
                slug: step.slug.clone(),
                sha256: step.artifact.sha256(),
                version: package.manifest.version.clone(),
                started_at: now.clone(),
                finished_at: now.clone(),
                duration_ms: 0,
                outcome: wasmig_store::Outcome::Accepted,
                error: Some("changed file accepted by `wasmig repair --accept-changed`".into()),
            };
            ledger.mark_accepted(&entry).await?;
        }
        tx.commit().await?;
        Ok(Repaired::Accepted {
            steps: plan.changed.clone(),
        })
    }

    async fn run(
        &self,
        modules: &[String],
        resume: bool,
        mut on_event: impl FnMut(Event<'_>),
    ) -> Result<UpgradeReport> {
        let selected = self.select(modules)?;
        self.locked(async {
            wasmig_store::ensure_schema(&self.db).await?;
            let packages = &selected.packages;
            if let Some(dir) = &self.backup_dir {
                let names: Vec<String> = packages.iter().map(|p| p.manifest.name.clone()).collect();
                let backup = self.backup_locked(&names, dir).await?;
                on_event(Event::BackedUp {
                    location: &backup.location,
                });
            }
            let mut report = self.run_recorded(packages, resume, &mut on_event).await?;
            report.modules.extend(
                self.refuse_unreadable(&selected.unreadable, &mut on_event)
                    .await?,
            );
            Ok(report)
        })
        .await
    }

    /// Each module whose package cannot be read, as a failure of its own.
    async fn refuse_unreadable(
        &self,
        unreadable: &[Unreadable],
        on_event: &mut impl FnMut(Event<'_>),
    ) -> Result<Vec<ModuleReport>> {
        let mut ledger = self.ledger().await?;
        let mut reports = Vec::new();
        for module in unreadable {
            let recorded = ledger.remove(&module.name).unwrap_or_default();
            let plan = plan_unreadable(module, &recorded);
            on_event(Event::Module { plan: &plan });
            reports.push(ModuleReport {
                module: module.name.clone(),
                from: plan.installed_version.clone(),
                to: plan.installed_version,
                applied: Vec::new(),
                failure: Some(Failure::refused(
                    &module.name,
                    Refusal::Unreadable {
                        error: with_causes(&module.error),
                    },
                )),
            });
        }
        Ok(reports)
    }

    /// Runs `packages` while the caller holds the upgrade lock, then records the schema each
    /// module's applied steps left: what later drift is measured against (also for a module
    /// whose record a stopped process left stale). A module left unfinished is recorded once
    /// it is finished.
    async fn run_recorded(
        &self,
        packages: &[Package],
        resume: bool,
        on_event: impl FnMut(Event<'_>),
    ) -> Result<UpgradeReport> {
        let drifted = self.drift().await?;
        let report = self
            .run_maintained(packages, resume, &drifted, on_event)
            .await?;
        let stale = |module: &str| drifted.iter().any(|d| d.stale && d.module == module);
        let recorded: Vec<&str> = report
            .modules
            .iter()
            .filter(|m| {
                (!m.applied.is_empty() || stale(&m.module))
                    && !m.failure.as_ref().is_some_and(|f| f.unfinished)
            })
            .map(|m| m.module.as_str())
            .collect();
        self.record_schemas(&recorded).await?;
        Ok(report)
    }

    /// Runs `packages` while the caller holds the upgrade lock, under the maintenance flag
    /// when the host sets it.
    async fn run_maintained(
        &self,
        packages: &[Package],
        resume: bool,
        drifted: &[Drift],
        on_event: impl FnMut(Event<'_>),
    ) -> Result<UpgradeReport> {
        if !self.maintenance {
            return self.run_locked(packages, resume, drifted, on_event).await;
        }
        let names: Vec<&str> = packages.iter().map(|p| p.manifest.name.as_str()).collect();
        let reason = format!("wasmig is upgrading {}", names.join(", "));
        let flag = lifecycle::RaisedFlag::raise(&self.db, &reason).await?;
        let result = self.run_locked(packages, resume, drifted, on_event).await;
        // Lowered whatever happened to the modules, also when this future is dropped (a crash
        // leaves it set: `wasmig maintenance --clear`).
        let cleared = flag.lower().await;
        let report = result?;
        cleared?;
        Ok(report)
    }

    /// Runs `packages` while the caller holds the upgrade lock.
    async fn run_locked(
        &self,
        packages: &[Package],
        resume: bool,
        drifted: &[Drift],
        mut on_event: impl FnMut(Event<'_>),
    ) -> Result<UpgradeReport> {
        let mut ledger = self.ledger().await?;
        let mut versions = deps::Versions::from_ledger(&ledger);
        let mut report = UpgradeReport::default();
        let refusal = self.unenforced().await?;
        for package in packages {
            if self.runtime.stop_handle().is_stopped() {
                let record = ledger
                    .get(&package.manifest.name)
                    .and_then(|r| r.record.as_ref());
                let installed = record.and_then(|r| r.version.clone());
                report.modules.push(stopped_before(package, installed));
                continue;
            }
            let recorded = ledger.remove(&package.manifest.name).unwrap_or_default();
            let mut plan = plan_module(package, &recorded, self.options);
            versions.block_unmet(&mut plan, package);
            security::refuse_unenforced(&mut plan, refusal.as_ref());
            let drift = drifted.iter().find(|d| d.module == package.manifest.name);
            self.settle_drift(&mut plan, drift).await?;
            let record = recorded.record;
            on_event(Event::Module { plan: &plan });
            let module_report = run::Upgrade {
                db: &self.db,
                runtime: &self.runtime,
                package,
                record,
                plan: &plan,
                resume,
                policy: &self.policy,
                lock_wait: self.lock_wait,
            }
            .run(&mut on_event)
            .await?;
            versions.set(&module_report.module, module_report.to.clone());
            report.modules.push(module_report);
        }
        Ok(report)
    }

    /// A plan of a module that drifted: refused, or (when the operator accepts drift) let
    /// run with the acceptance recorded.
    async fn settle_drift(&self, plan: &mut ModulePlan, drift: Option<&Drift>) -> Result<()> {
        let Some(drift) = drift.filter(|d| !d.stale) else {
            return Ok(());
        };
        if !self.accept_drift {
            drift::refuse_drifted(plan, Some(drift));
            return Ok(());
        }
        if matches!(plan.action, Action::Apply { .. }) && !plan.pending.is_empty() {
            let version = plan
                .installed_version
                .clone()
                .or_else(|| plan.header_version.clone())
                .unwrap_or_else(|| semver::Version::new(0, 0, 0));
            let mut tx = self.db.begin().await?;
            Ledger::new(&mut tx)
                .mark_accepted(&drift::accepted(drift, version))
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// The ledger's history, oldest first; only `module`'s when given.
    pub async fn history(&self, module: Option<&str>) -> Result<Vec<HistoryEntry>> {
        if !wasmig_store::exists(&self.db).await? {
            return Ok(Vec::new());
        }
        Ok(wasmig_store::history(&self.db, module).await?)
    }

    /// What the ledger knows, by module.
    async fn ledger(&self) -> Result<BTreeMap<String, Recorded>> {
        if !wasmig_store::exists(&self.db).await? {
            return Ok(BTreeMap::new());
        }
        let mut ledger: BTreeMap<String, Recorded> = wasmig_store::modules(&self.db)
            .await?
            .into_iter()
            .map(|r| {
                let recorded = Recorded {
                    record: Some(r.clone()),
                    ..Recorded::default()
                };
                (r.module, recorded)
            })
            .collect();
        for module in wasmig_store::inactive(&self.db).await? {
            ledger.entry(module).or_default().inactive = true;
        }
        for (module, applied) in wasmig_store::applied_checksums(&self.db).await? {
            ledger.entry(module).or_default().applied = applied;
        }
        Ok(ledger)
    }

    fn select(&self, modules: &[String]) -> Result<Modules> {
        let mut all = wasmig_manifest::load_modules(&self.modules_dir)?;
        let known = |name: &String| {
            all.packages.iter().any(|p| &p.manifest.name == name)
                || all.unreadable.iter().any(|u| &u.name == name)
        };
        if let Some(name) = modules.iter().find(|name| !known(name)) {
            return Err(Error::UnknownModule {
                name: name.clone(),
                dir: self.modules_dir.clone(),
            });
        }
        let wanted = |name: &String| modules.is_empty() || modules.contains(name);
        all.packages.retain(|p| wanted(&p.manifest.name));
        all.unreadable.retain(|u| wanted(&u.name));
        Ok(all)
    }

    /// The package of `module`, which must be readable.
    fn select_one(&self, module: &str) -> Result<Package> {
        let mut found = self.select(&[module.to_owned()])?;
        if let Some(error) = found.take_unreadable(module) {
            return Err(error.into());
        }
        Ok(found.packages.remove(0))
    }
}

/// The report of a module that did not start because the upgrade was asked to stop.
fn stopped_before(package: &Package, installed: Option<Version>) -> ModuleReport {
    let module = package.manifest.name.clone();
    ModuleReport {
        failure: Some(Failure {
            module: module.clone(),
            step: None,
            kind: FailureKind::Stopped,
            reason: run::STOPPED_BEFORE.to_owned(),
            unfinished: false,
        }),
        module,
        from: installed.clone(),
        to: installed,
        applied: Vec::new(),
    }
}
