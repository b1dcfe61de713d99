//! Why a module did not run or did not finish, as data a host can match on. Messages stay
//! readable through `Display`; what an operator types next (`wasmig resume …`) is the
//! front end's to add.

use semver::{Version, VersionReq};
use serde::Serialize;
use serde::ser::SerializeMap;
use wasmig_db::Denial;

/// Why the planner refuses a module before anything of it runs. New kinds may be added:
/// match with a wildcard arm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The package is older than the database: wasmig has no `down()`.
    #[error(
        "the database is at {installed} but the package is {header}; wasmig has no down(): \
         install the package of version {installed} or newer"
    )]
    Downgrade {
        /// The version in the database.
        installed: Version,
        /// The version in the package's header.
        header: Version,
    },
    /// A step was added but the header's version stayed the same.
    #[error(
        "step {step} was added but the version stayed {version}: raise `version` in module.toml"
    )]
    StepAddedWithoutBump {
        /// The first added step (`NNN_slug`).
        step: String,
        /// The unchanged version.
        version: Version,
    },
    /// The database has more steps applied than the package holds.
    #[error(
        "the database has step {applied:03} applied but the package's steps end at {last:03}; \
         steps must never be removed from a package"
    )]
    StepRemoved {
        /// The last step applied.
        applied: u32,
        /// The package's last step.
        last: u32,
    },
    /// The module's objects changed outside its steps since its last upgrade.
    #[error(
        "{objects} of its objects changed outside its steps since its last upgrade (`wasmig \
         diff` shows them): put them back, or upgrade with --accept-drift to go on from them"
    )]
    Drifted {
        /// How many objects differ.
        objects: usize,
    },
    /// Steps changed after they were applied.
    #[error("{}", .changes.join("; "))]
    StepChanged {
        /// The changed steps (`NNN_slug`).
        steps: Vec<String>,
        /// One sentence per changed step, with both checksums.
        changes: Vec<String>,
    },
    /// The module needs a host API this host does not implement.
    #[error(
        "needs host API {required}, but this host implements {host} (it runs components built \
         for ^{host})"
    )]
    HostApi {
        /// What the module's manifest asks for.
        required: VersionReq,
        /// What this host implements.
        host: Version,
    },
    /// A module it depends on is missing or at a version outside the range it needs.
    #[error(
        "{}: upgrade what it depends on first (in the same run, dependencies go first)",
        .unmet.join("; ")
    )]
    Dependency {
        /// One sentence per unmet dependency.
        unmet: Vec<String>,
    },
    /// Only wasmig's SQL policy would check its steps on this database, and the host did not
    /// accept that.
    #[error("only wasmig's SQL policy would check its steps on this database: {reason}")]
    Unenforced {
        /// Why the database cannot enforce the boundary.
        reason: String,
    },
    /// Its package cannot be read.
    #[error("its package cannot be read: {error}")]
    Unreadable {
        /// What is wrong with it.
        error: String,
    },
}

impl Refusal {
    /// The kind, as a short stable word (`downgrade`, `step-changed`, …) for JSON and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::Downgrade { .. } => "downgrade",
            Refusal::StepAddedWithoutBump { .. } => "step-added-without-bump",
            Refusal::StepRemoved { .. } => "step-removed",
            Refusal::StepChanged { .. } => "step-changed",
            Refusal::Drifted { .. } => "drifted",
            Refusal::HostApi { .. } => "host-api",
            Refusal::Dependency { .. } => "dependency",
            Refusal::Unenforced { .. } => "unenforced",
            Refusal::Unreadable { .. } => "unreadable",
        }
    }
}

/// Serialised as `{"refusal": kind, "reason": message}`.
impl Serialize for Refusal {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("refusal", self.kind())?;
        map.serialize_entry("reason", &self.to_string())?;
        map.end()
    }
}

/// Why a repair does not fit the module's state (see [`crate::Host::repair`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RepairRefusal {
    /// The ledger has no row for the module.
    #[error("the module was never installed")]
    NeverInstalled,
    /// Accepting changed files was asked for, but no applied step changed.
    #[error("no applied step changed since it was applied")]
    NothingChanged,
    /// Settling a step was asked for, but none is unfinished.
    #[error(
        "no step is unfinished (status {status}); repair settles a step left running or failed \
         after committing part of its work"
    )]
    NothingUnfinished {
        /// The module's status.
        status: wasmig_store::ModuleStatus,
    },
    /// The step named is not the unfinished one.
    #[error("step {step:03} is not the unfinished one, which is {unfinished}")]
    NotTheUnfinishedStep {
        /// The step asked for (0: install).
        step: u32,
        /// The unfinished step (`NNN_slug` or `install`).
        unfinished: String,
    },
}

/// Why a module cannot be uninstalled (see [`crate::Host::uninstall`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UninstallRefusal {
    /// The package ships no `uninstall.wasm` or `uninstall.sql`.
    #[error(
        "its package ships no uninstall step (uninstall.wasm or uninstall.sql), and wasmig never \
         drops a module's data on its own"
    )]
    NoUninstallStep,
    /// The ledger has no installed version of it.
    #[error("it is not installed")]
    NotInstalled,
    /// A step of it is unfinished.
    #[error("a step is unfinished: resume or repair it first")]
    Unfinished,
    /// An active installed module depends on it.
    #[error("module `{dependent}` depends on it: uninstall or deactivate that one first")]
    Dependent {
        /// The module that depends on it.
        dependent: String,
    },
    /// The uninstall step cannot be prepared.
    #[error("its uninstall step cannot run: {reason}")]
    CannotRun {
        /// Why.
        reason: String,
    },
    /// The uninstall step ran and failed; it was rolled back and recorded.
    #[error("its uninstall step failed: {reason}")]
    Failed {
        /// What kind of failure.
        kind: Box<FailureKind>,
        /// Why, in words.
        reason: String,
    },
}

/// What kind of failure stopped a module (see [`crate::Failure`]). New kinds may be added:
/// match with a wildcard arm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum FailureKind {
    /// The planner refused the module; nothing of it ran.
    Refused {
        /// Why.
        refusal: Refusal,
    },
    /// A step of it was left unfinished by an earlier run; only a resume or a repair goes on.
    Unfinished,
    /// The policy or the database refused a statement of the step.
    Denied {
        /// The statement and the rule it broke.
        denial: Denial,
    },
    /// The step reached one of its limits (time, statements, rows, bytes, statement size).
    Quota,
    /// The step reported an error (a component's `up()` returned one, or a statement of a
    /// SQL step failed).
    Returned,
    /// The guest trapped (a panic, out of fuel or memory).
    Trapped,
    /// A resumed step sent other statements than its journal recorded.
    Diverged,
    /// The step could not be prepared (a component that is not one of this world, a script
    /// that cannot be split).
    Invalid,
    /// The step could not start: a statement another upgrader left running on the server
    /// still holds the step lock.
    Locked,
    /// An unfinished step can no longer be replayed safely (its file changed, or the package
    /// or the ledger no longer has it).
    NotStarted,
    /// The upgrade was asked to stop (see [`crate::Stop`]): the step was interrupted and
    /// rolled back, or it never started.
    Stopped,
    /// The host failed around the step (its journal or ledger could not be written).
    Host,
}

impl From<&wasmig_runtime::Error> for FailureKind {
    fn from(error: &wasmig_runtime::Error) -> Self {
        use wasmig_runtime::Error;
        match error {
            Error::Denied(denial) => FailureKind::Denied {
                denial: denial.clone(),
            },
            Error::Quota(_) => FailureKind::Quota,
            Error::Returned(_) => FailureKind::Returned,
            Error::Trapped { .. } => FailureKind::Trapped,
            Error::Diverged(_) => FailureKind::Diverged,
            Error::Invalid(_) => FailureKind::Invalid,
            Error::Stopped => FailureKind::Stopped,
            _ => FailureKind::Host,
        }
    }
}

/// A step that failed or could not start: its kind and its message.
#[derive(Debug, Clone)]
pub(crate) struct StepError {
    pub kind: FailureKind,
    pub reason: String,
}

impl StepError {
    pub(crate) fn new(kind: FailureKind, reason: impl Into<String>) -> Self {
        StepError {
            kind,
            reason: reason.into(),
        }
    }
}

impl From<wasmig_runtime::Error> for StepError {
    fn from(error: wasmig_runtime::Error) -> Self {
        StepError::new(FailureKind::from(&error), with_causes(&error))
    }
}

/// `error`'s message followed by its causes, as one line (`message: cause: cause`): what a
/// report keeps of an error whose causes are [`std::error::Error::source`]s.
pub fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
