//! Checking a module package before it is installed (`wasmig verify`).

use crate::outcome::with_causes;
use std::path::{Path, PathBuf};

use semver::{Version, VersionReq};
use serde::Serialize;
use wasmig_db::Dialect;
use wasmig_manifest::{Artifact, CHECKSUMS_FILE, Kind, Package};
use wasmig_runtime::{HOST_API_VERSION, Runtime};

/// One thing `verify` checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked: `module.toml`, `migrations/002_add_status.wasm`, …
    pub subject: String,
    /// Whether it is fit to install.
    pub passed: bool,
    /// What was found.
    pub detail: String,
}

/// The result of verifying one package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// The package's directory.
    pub path: PathBuf,
    /// The module's name, when its header could be read.
    pub module: Option<String>,
    /// The module's version, when its header could be read.
    pub version: Option<Version>,
    /// Every check, in order.
    pub checks: Vec<Check>,
}

impl Verification {
    /// True when every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }
}

fn check(subject: impl Into<String>, passed: bool, detail: impl Into<String>) -> Check {
    Check {
        subject: subject.into(),
        passed,
        detail: detail.into(),
    }
}

/// Checks the package in `dir` (a module's directory): its header, the numbering of its steps,
/// its checksum list, that each component targets a version of the `wasmig:migration` world
/// this host serves and imports nothing else, and that each SQL step can be read in every
/// dialect. Nothing is installed; no database is needed.
pub async fn verify_package(runtime: &Runtime, dir: &Path) -> Verification {
    let mut verification = Verification {
        path: dir.to_owned(),
        module: None,
        version: None,
        checks: Vec::new(),
    };
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
        verification
            .checks
            .push(check("package", false, "not a module directory"));
        return verification;
    };
    let package = match wasmig_manifest::load_module(parent, &name.to_string_lossy()) {
        Ok(package) => package,
        Err(e) => {
            verification
                .checks
                .push(check("package", false, with_causes(&e)));
            return verification;
        }
    };
    let manifest = &package.manifest;
    verification.module = Some(manifest.name.clone());
    verification.version = Some(manifest.version.clone());
    let checks = &mut verification.checks;
    checks.push(check(
        "module.toml",
        true,
        format!("{} {}", manifest.name, manifest.version),
    ));
    checks.push(host_api_check(manifest.host_api.as_ref()));
    checks.push(check("steps", true, describe_steps(&package)));
    checks.push(if package.checksummed {
        check(CHECKSUMS_FILE, true, "every step file matches its checksum")
    } else {
        check(
            CHECKSUMS_FILE,
            true,
            "absent: the files are not pinned (`wasmig build` writes the list)",
        )
    });
    for artifact in package.artifacts() {
        let subject = artifact
            .path
            .strip_prefix(dir)
            .unwrap_or(&artifact.path)
            .display()
            .to_string();
        let (passed, detail) = match artifact.kind {
            Kind::Component => component_check(runtime, artifact).await,
            Kind::Sql => script_check(&manifest.name, artifact),
        };
        checks.push(check(subject, passed, detail));
    }
    verification
}

fn host_api_check(wanted: Option<&VersionReq>) -> Check {
    let Some(wanted) = wanted else {
        return check(
            "host-api",
            true,
            "not given: the package has no components, so it needs no host API",
        );
    };
    let passed = wanted.matches(&HOST_API_VERSION);
    let detail = if passed {
        format!("needs {wanted}; this host implements {HOST_API_VERSION}")
    } else {
        format!(
            "needs {wanted}, but this host implements {HOST_API_VERSION}: it would be refused \
             (unless forced)"
        )
    };
    check("host-api", passed, detail)
}

fn describe_steps(package: &Package) -> String {
    let mut parts = Vec::new();
    if package.install.is_some() {
        parts.push("an install step".to_owned());
    }
    parts.push(match package.last_step() {
        0 => "no numbered steps".to_owned(),
        1 => "step 001".to_owned(),
        n => format!("steps 001 to {n:03}, without gaps"),
    });
    if package.uninstall.is_some() {
        parts.push("an uninstall step".to_owned());
    }
    parts.join(", ")
}

/// A component must link against this host's world and nothing else.
async fn component_check(runtime: &Runtime, artifact: &Artifact) -> (bool, String) {
    match runtime.imports(&artifact.bytes).await {
        Ok(imports) => {
            let ours: Vec<&str> = imports
                .iter()
                .filter(|i| i.starts_with("wasmig:migration/"))
                .map(|i| i.trim_start_matches("wasmig:migration/"))
                .collect();
            let wasi = imports.len() - ours.len();
            (
                true,
                format!(
                    "a component of the migration world: imports {} and {wasi} WASI interfaces \
                     (served without filesystem, network or environment)",
                    ours.join(", ")
                ),
            )
        }
        Err(e) => (false, with_causes(&e)),
    }
}

/// A SQL step must read as statements that the policy's rules allow (those that need no
/// database: statement kinds, functions, settings) in at least one dialect; a step of
/// comments only is fine (it changes nothing and is recorded as applied).
fn script_check(module: &str, artifact: &Artifact) -> (bool, String) {
    let Ok(text) = std::str::from_utf8(&artifact.bytes) else {
        return (false, "not UTF-8 text".to_owned());
    };
    let mut passed = Vec::new();
    let mut refused = Vec::new();
    for dialect in [Dialect::Sqlite, Dialect::Postgres, Dialect::MySql] {
        match rules_verdict(module, dialect, text) {
            Ok(count) => passed.push((dialect, count)),
            Err(reason) => refused.push(format!("as {dialect}: {reason}")),
        }
    }
    match passed.first() {
        Some((_, 0)) => (
            true,
            "plain SQL of comments only: it changes nothing and is recorded as applied".to_owned(),
        ),
        Some((_, count)) => {
            let dialects: Vec<String> = passed.iter().map(|(d, _)| d.to_string()).collect();
            (
                true,
                format!(
                    "plain SQL, {count} statements the policy's rules allow as {}",
                    dialects.join(", ")
                ),
            )
        }
        None => (false, refused.join("; ")),
    }
}

/// Splits `text` in `dialect` and checks every statement against the rules alone; the
/// number of statements, or why one is refused.
fn rules_verdict(module: &str, dialect: Dialect, text: &str) -> Result<usize, String> {
    let statements = wasmig_guard::split_script(dialect, text)?;
    let mut policy = wasmig_guard::Policy::rules_only(dialect, module);
    for statement in &statements {
        let effects = policy
            .check(&statement.sql)
            .map_err(|denial| format!("line {}: {denial}", statement.line))?;
        policy.apply(&effects);
    }
    Ok(statements.len())
}
