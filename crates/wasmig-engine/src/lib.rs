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

mod plan;
mod run;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use semver::Version;
use serde::Serialize;
use wasmig_db::Database;
use wasmig_manifest::Package;
use wasmig_runtime::Runtime;
use wasmig_store::HistoryEntry;

pub use plan::{Action, ModulePlan, plan_absent, plan_module};
pub use wasmig_runtime::{HOST_API_VERSION, Limits};

/// Why the engine could not do what it was asked.
#[derive(Debug, thiserror::Error)]
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
    /// An operator named a module that is not in the modules directory.
    #[error("no module named `{name}` in {}", .dir.display())]
    UnknownModule {
        /// The name asked for.
        name: String,
        /// The modules directory.
        dir: PathBuf,
    },
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Progress of an upgrade, reported as it happens.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
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
    /// What went wrong.
    pub reason: String,
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

/// A database, a modules directory and the sandbox that runs their migrations.
#[derive(Debug)]
pub struct Host {
    db: Database,
    modules_dir: PathBuf,
    runtime: Runtime,
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

    /// Serves the modules below `modules_dir` on an open database with a given runtime.
    pub fn new(db: Database, modules_dir: impl Into<PathBuf>, runtime: Runtime) -> Self {
        Host {
            db,
            modules_dir: modules_dir.into(),
            runtime,
        }
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
        let packages = wasmig_manifest::load_modules(&self.modules_dir)?;
        let mut records: BTreeMap<String, _> = self.ledger().await?;
        let mut plans: Vec<ModulePlan> = packages
            .iter()
            .map(|p| plan_module(p, records.remove(&p.manifest.name).as_ref()))
            .collect();
        plans.extend(records.values().map(plan_absent));
        plans.sort_by(|a, b| a.module.cmp(&b.module));
        Ok(plans)
    }

    /// Brings the named modules (all when `modules` is empty) to their header's version.
    /// Every module is attempted; a failing one stops at its last good step and is reported.
    pub async fn upgrade(
        &self,
        modules: &[String],
        mut on_event: impl FnMut(Event<'_>),
    ) -> Result<UpgradeReport> {
        let packages = self.select(modules)?;
        wasmig_store::ensure_schema(&self.db).await?;
        let mut records = self.ledger().await?;
        let mut report = UpgradeReport::default();
        for package in &packages {
            let record = records.remove(&package.manifest.name);
            let plan = plan_module(package, record.as_ref());
            on_event(Event::Module { plan: &plan });
            let module_report = run::Upgrade {
                db: &self.db,
                runtime: &self.runtime,
                package,
                record,
                plan: &plan,
            }
            .run(&mut on_event)
            .await?;
            report.modules.push(module_report);
        }
        Ok(report)
    }

    /// The ledger's history, oldest first; only `module`'s when given.
    pub async fn history(&self, module: Option<&str>) -> Result<Vec<HistoryEntry>> {
        if !wasmig_store::exists(&self.db).await? {
            return Ok(Vec::new());
        }
        Ok(wasmig_store::history(&self.db, module).await?)
    }

    async fn ledger(&self) -> Result<BTreeMap<String, wasmig_store::ModuleRecord>> {
        if !wasmig_store::exists(&self.db).await? {
            return Ok(BTreeMap::new());
        }
        Ok(wasmig_store::modules(&self.db)
            .await?
            .into_iter()
            .map(|r| (r.module.clone(), r))
            .collect())
    }

    fn select(&self, modules: &[String]) -> Result<Vec<Package>> {
        let packages = wasmig_manifest::load_modules(&self.modules_dir)?;
        if let Some(name) = modules
            .iter()
            .find(|name| !packages.iter().any(|p| &p.manifest.name == *name))
        {
            return Err(Error::UnknownModule {
                name: name.clone(),
                dir: self.modules_dir.clone(),
            });
        }
        Ok(packages
            .into_iter()
            .filter(|p| modules.is_empty() || modules.contains(&p.manifest.name))
            .collect())
    }
}
