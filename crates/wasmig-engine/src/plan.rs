//! Deciding what to do with a module: compare its header with what the ledger says.

use crate::outcome::with_causes;
use std::collections::BTreeMap;

use semver::Version;
use serde::Serialize;
use wasmig_manifest::{Package, Unreadable};

use crate::Refusal;
use wasmig_runtime::HOST_API_VERSION;
use wasmig_store::{ModuleRecord, ModuleStatus};

/// What the ledger knows of one module, as the planner needs it.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// Its row, when the module was ever touched.
    pub record: Option<ModuleRecord>,
    /// The sha256 each step had when it was applied (or accepted by an operator).
    pub applied: BTreeMap<u32, String>,
    /// True when an operator deactivated the module.
    pub inactive: bool,
}

/// How the planner decides beyond versions.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Run modules whose `host-api` range excludes this host (`--force`).
    pub force: bool,
}

/// What an upgrade would do with one module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Action {
    /// Never installed: run `install.wasm`, which covers every step of the package.
    Install,
    /// Run the steps from `first` to the package's last, in order. On a module never installed
    /// (and without an install component) that is every step from 001; when no step is left,
    /// only the stored version changes.
    Apply {
        /// The first step to run.
        first: u32,
    },
    /// The database is at the header's version with every step applied.
    UpToDate,
    /// The module cannot be upgraded as it is; nothing will run.
    Refused {
        /// Why.
        #[serde(flatten)]
        refusal: Refusal,
    },
    /// A step neither completed nor rolled back (MySQL: a crash, or a failure after DDL had
    /// committed); only `resume` or `repair` continue from here.
    Unfinished {
        /// The step (`NNN_slug` or `install`).
        step: String,
        /// Whether it was left running or failed after committing part of its work.
        status: ModuleStatus,
    },
    /// The ledger knows the module but the modules directory no longer has it.
    Absent,
    /// An operator deactivated the module: upgrades leave it (and its data) alone until it is
    /// activated again.
    Inactive,
}

impl Action {
    /// What happened to an unfinished step; a resume replays it (statements already
    /// committed are skipped), a repair settles it by hand.
    pub fn unfinished_reason(step: &str, status: ModuleStatus) -> String {
        let what = match status {
            ModuleStatus::Running => "was left running (the process stopped, or is still running)",
            _ => "failed after some of its statements had committed (DDL commits implicitly)",
        };
        format!("step {step} {what}")
    }
}

/// A module's state and the action an upgrade would take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModulePlan {
    /// The module's name.
    pub module: String,
    /// The version in the database; `None` when not (completely) installed.
    pub installed_version: Option<Version>,
    /// The last step applied; 0 when none.
    pub last_step: u32,
    /// Whether the last attempt failed.
    pub last_attempt_failed: bool,
    /// The version in the package's header; `None` when the package is absent.
    pub header_version: Option<Version>,
    /// The number of steps in the package.
    pub package_steps: u32,
    /// What an upgrade would do.
    pub action: Action,
    /// The components an upgrade would run, in order (`install` or `NNN_slug`).
    pub pending: Vec<String>,
    /// Applied steps whose file changed since (`NNN_slug`); an upgrade refuses them.
    pub changed: Vec<String>,
    /// What the operator should know although the module runs (e.g. a forced host API).
    pub warnings: Vec<String>,
}

impl ModulePlan {
    /// True when an upgrade would run something or change the stored version.
    pub fn has_work(&self) -> bool {
        matches!(self.action, Action::Install | Action::Apply { .. })
    }
}

/// Plans one module from its package and what the ledger knows of it.
pub fn plan_module(package: &Package, recorded: &Recorded, options: Options) -> ModulePlan {
    let record = recorded.record.as_ref();
    let header = &package.manifest.version;
    let last_step = record.map_or(0, |r| r.last_step);
    let installed_version = record.and_then(|r| r.version.clone());
    let changed = changed_steps(package, &recorded.applied);
    let mut warnings = Vec::new();
    // A module of plain SQL steps needs no host API.
    let host_api = package
        .manifest
        .host_api
        .clone()
        .unwrap_or(semver::VersionReq::STAR);
    let incompatible = !host_api.matches(&HOST_API_VERSION);
    let action = match record {
        Some(r) if r.status.is_unfinished() => Action::Unfinished {
            step: unfinished_step(package, r),
            status: r.status,
        },
        _ if recorded.inactive => Action::Inactive,
        _ if incompatible && !options.force => Action::Refused {
            refusal: Refusal::HostApi {
                required: host_api.clone(),
                host: HOST_API_VERSION,
            },
        },
        _ if !changed.is_empty() => Action::Refused {
            refusal: changed_refusal(package, &changed, &recorded.applied),
        },
        _ => decide(package, installed_version.as_ref(), last_step),
    };
    if incompatible && options.force {
        warnings.push(format!(
            "needs host API {host_api}, this host implements {HOST_API_VERSION}: running anyway \
             (--force)"
        ));
    }
    let pending = match &action {
        Action::Install => vec!["install".to_owned()],
        Action::Apply { first } => package
            .steps
            .iter()
            .filter(|s| s.number >= *first)
            .map(|s| s.name())
            .collect(),
        Action::Unfinished { step, .. } => vec![step.clone()],
        _ => Vec::new(),
    };
    ModulePlan {
        module: package.manifest.name.clone(),
        installed_version,
        last_step,
        last_attempt_failed: record.is_some_and(|r| r.status == ModuleStatus::Failed),
        header_version: Some(header.clone()),
        package_steps: package.last_step(),
        action,
        pending,
        changed: changed.iter().map(|s| s.name()).collect(),
        warnings,
    }
}

/// The applied steps whose file's sha256 differs from the one recorded when they ran.
fn changed_steps<'p>(
    package: &'p Package,
    applied: &BTreeMap<u32, String>,
) -> Vec<&'p wasmig_manifest::Step> {
    package
        .steps
        .iter()
        .filter(|s| {
            applied
                .get(&s.number)
                .is_some_and(|sha| *sha != s.artifact.sha256())
        })
        .collect()
}

fn changed_refusal(
    package: &Package,
    changed: &[&wasmig_manifest::Step],
    applied: &BTreeMap<u32, String>,
) -> Refusal {
    let module = &package.manifest.name;
    let changes: Vec<String> = changed
        .iter()
        .map(|s| {
            format!(
                "step {} of {module} changed after it was applied (sha256 {} then, {} now)",
                s.name(),
                &applied[&s.number][..12],
                &s.artifact.sha256()[..12]
            )
        })
        .collect();
    Refusal::StepChanged {
        steps: changed.iter().map(|s| s.name()).collect(),
        changes,
    }
}

/// Plans a module the ledger knows but the modules directory does not hold.
pub fn plan_absent(record: &ModuleRecord) -> ModulePlan {
    ModulePlan {
        module: record.module.clone(),
        installed_version: record.version.clone(),
        last_step: record.last_step,
        last_attempt_failed: record.status == ModuleStatus::Failed,
        header_version: None,
        package_steps: 0,
        action: Action::Absent,
        pending: Vec::new(),
        changed: Vec::new(),
        warnings: Vec::new(),
    }
}

/// The plan of a module whose package could not be read: refused with why, whatever the
/// ledger says of it.
pub fn plan_unreadable(unreadable: &Unreadable, recorded: &Recorded) -> ModulePlan {
    let record = recorded.record.as_ref();
    ModulePlan {
        module: unreadable.name.clone(),
        installed_version: record.and_then(|r| r.version.clone()),
        last_step: record.map_or(0, |r| r.last_step),
        last_attempt_failed: record.is_some_and(|r| r.status == ModuleStatus::Failed),
        header_version: None,
        package_steps: 0,
        action: Action::Refused {
            refusal: Refusal::Unreadable {
                error: with_causes(&unreadable.error),
            },
        },
        pending: Vec::new(),
        changed: Vec::new(),
        warnings: Vec::new(),
    }
}

/// The step an unfinished module was running: the install component if the module was being
/// installed with it, else the step after the last applied one.
pub fn unfinished_step(package: &Package, record: &ModuleRecord) -> String {
    if record.version.is_none() && record.last_step == 0 && package.install.is_some() {
        return "install".to_owned();
    }
    package
        .steps
        .get(record.last_step as usize)
        .map_or_else(|| format!("{:03}", record.last_step + 1), |s| s.name())
}

fn decide(package: &Package, installed: Option<&Version>, last_step: u32) -> Action {
    let manifest = &package.manifest;
    let refuse = |refusal: Refusal| Action::Refused { refusal };
    if last_step > package.last_step() {
        return refuse(Refusal::StepRemoved {
            applied: last_step,
            last: package.last_step(),
        });
    }
    let header = &manifest.version;
    match installed {
        None if last_step == 0 && package.install.is_some() => Action::Install,
        None => Action::Apply {
            first: last_step + 1,
        },
        Some(installed) if header < installed => refuse(Refusal::Downgrade {
            installed: installed.clone(),
            header: header.clone(),
        }),
        Some(installed) if header == installed => {
            if last_step < package.last_step() {
                let added = &package.steps[last_step as usize];
                refuse(Refusal::StepAddedWithoutBump {
                    step: added.name(),
                    version: header.clone(),
                })
            } else {
                Action::UpToDate
            }
        }
        Some(_) => Action::Apply {
            first: last_step + 1,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use wasmig_manifest::{Artifact, Kind, Manifest, Step};
    use wasmig_store::ModuleStatus;

    fn artifact() -> Artifact {
        Artifact::new(PathBuf::from("x.wasm"), Kind::Component, Vec::new())
    }

    fn package(version: &str, steps: u32, install: bool) -> Package {
        Package {
            manifest: Manifest {
                name: "blog".into(),
                version: version.parse().unwrap(),
                description: None,
                host_api: Some("^0.1".parse().unwrap()),
                grants: Default::default(),
                depends: Default::default(),
                no_transaction: Vec::new(),
            },
            install: install.then(artifact),
            steps: (1..=steps)
                .map(|number| Step {
                    number,
                    slug: format!("s{number}"),
                    artifact: artifact(),
                })
                .collect(),
            uninstall: None,
            checksummed: false,
        }
    }

    fn plan_module(package: &Package, record: Option<&ModuleRecord>) -> ModulePlan {
        let recorded = Recorded {
            record: record.cloned(),
            ..Recorded::default()
        };
        super::plan_module(package, &recorded, Options::default())
    }

    fn record(version: Option<&str>, last_step: u32) -> ModuleRecord {
        ModuleRecord {
            module: "blog".into(),
            version: version.map(|v| v.parse().unwrap()),
            last_step,
            status: ModuleStatus::Ok,
            installed_at: String::new(),
            updated_at: String::new(),
        }
    }

    fn action(package: &Package, record: Option<&ModuleRecord>) -> Action {
        plan_module(package, record).action
    }

    fn refusal(action: Action) -> Refusal {
        match action {
            Action::Refused { refusal } => refusal,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn version(text: &str) -> Version {
        text.parse().unwrap()
    }

    #[test]
    fn fresh_installs_use_the_install_component_when_there_is_one() {
        let plan = plan_module(&package("1.0.0", 3, true), None);
        assert_eq!(plan.action, Action::Install);
        assert_eq!(plan.pending, ["install"]);
        let plan = plan_module(&package("1.0.0", 3, false), None);
        assert_eq!(plan.action, Action::Apply { first: 1 });
        assert_eq!(plan.pending, ["001_s1", "002_s2", "003_s3"]);
    }

    #[test]
    fn an_interrupted_fresh_install_continues_with_its_steps() {
        let r = record(None, 2);
        assert_eq!(
            action(&package("1.0.0", 3, true), Some(&r)),
            Action::Apply { first: 3 }
        );
        let r = record(None, 0);
        assert_eq!(
            action(&package("1.0.0", 3, true), Some(&r)),
            Action::Install
        );
    }

    #[test]
    fn a_newer_header_runs_the_steps_after_the_last_applied() {
        let r = record(Some("1.0.0"), 2);
        let plan = plan_module(&package("1.1.0", 4, true), Some(&r));
        assert_eq!(plan.action, Action::Apply { first: 3 });
        assert_eq!(plan.pending, ["003_s3", "004_s4"]);
        let plan = plan_module(&package("1.1.0", 2, true), Some(&r));
        assert_eq!(plan.action, Action::Apply { first: 3 });
        assert!(plan.pending.is_empty(), "a version bump needs no step");
    }

    #[test]
    fn the_same_version_is_up_to_date_unless_a_step_was_added() {
        let r = record(Some("1.0.0"), 2);
        assert_eq!(
            action(&package("1.0.0", 2, false), Some(&r)),
            Action::UpToDate
        );
        let why = refusal(action(&package("1.0.0", 3, false), Some(&r)));
        assert_eq!(
            why,
            Refusal::StepAddedWithoutBump {
                step: "003_s3".into(),
                version: version("1.0.0")
            }
        );
        assert!(
            why.to_string()
                .contains("step 003_s3 was added but the version stayed 1.0.0"),
            "{why}"
        );
    }

    #[test]
    fn an_unfinished_step_blocks_the_module_until_resumed_or_repaired() {
        let mut r = record(Some("1.0.0"), 2);
        r.status = ModuleStatus::Dirty;
        let plan = plan_module(&package("1.1.0", 4, true), Some(&r));
        assert_eq!(
            plan.action,
            Action::Unfinished {
                step: "003_s3".into(),
                status: ModuleStatus::Dirty
            }
        );
        let mut r = record(None, 0);
        r.status = ModuleStatus::Running;
        let plan = plan_module(&package("1.1.0", 4, true), Some(&r));
        assert_eq!(plan.pending, ["install"]);
        let why = Action::unfinished_reason("003_s3", ModuleStatus::Running);
        assert_eq!(
            why,
            "step 003_s3 was left running (the process stopped, or is still running)"
        );
    }

    #[test]
    fn older_headers_removed_steps_and_foreign_host_apis_are_refused() {
        let r = record(Some("1.2.0"), 2);
        let why = refusal(action(&package("1.1.0", 2, false), Some(&r)));
        assert_eq!(
            why,
            Refusal::Downgrade {
                installed: version("1.2.0"),
                header: version("1.1.0")
            }
        );
        assert!(
            why.to_string()
                .contains("database is at 1.2.0 but the package is 1.1.0"),
            "{why}"
        );
        let why = refusal(action(&package("1.3.0", 1, false), Some(&r)));
        assert_eq!(
            why,
            Refusal::StepRemoved {
                applied: 2,
                last: 1
            }
        );
        assert!(
            why.to_string()
                .contains("step 002 applied but the package's steps end at 001"),
            "{why}"
        );
        let mut p = package("1.0.0", 1, false);
        p.manifest.host_api = Some("^0.2".parse().unwrap());
        let why = refusal(action(&p, None));
        assert!(matches!(why, Refusal::HostApi { .. }), "{why:?}");
        assert!(
            why.to_string()
                .contains("needs host API ^0.2, but this host implements 0.1"),
            "{why}"
        );
        let forced = super::plan_module(&p, &Recorded::default(), Options { force: true });
        assert_eq!(forced.action, Action::Apply { first: 1 });
        assert!(
            forced.warnings[0].contains("(--force)"),
            "{:?}",
            forced.warnings
        );
    }

    #[test]
    fn a_step_changed_after_it_was_applied_is_refused() {
        let mut p = package("1.1.0", 3, false);
        p.steps[1].artifact = Artifact::new(PathBuf::from("002.wasm"), Kind::Component, vec![1]);
        let applied: BTreeMap<u32, String> = (1..=2)
            .map(|n| (n, package("1.0.0", 2, false).steps[0].artifact.sha256()))
            .collect();
        let recorded = Recorded {
            record: Some(record(Some("1.0.0"), 2)),
            applied,
            inactive: false,
        };
        let plan = super::plan_module(&p, &recorded, Options::default());
        assert_eq!(plan.changed, ["002_s2"]);
        let why = refusal(plan.action);
        assert!(
            matches!(&why, Refusal::StepChanged { steps, .. } if steps == &["002_s2"]),
            "{why:?}"
        );
        assert!(
            why.to_string()
                .contains("step 002_s2 of blog changed after it was applied"),
            "{why}"
        );
    }
}
