//! Install ≡ upgrade, proved (`wasmig verify --paths`): a module installed fresh, and reached
//! from each earlier version its steps imply, must end with the same schema.
//!
//! Each path runs on a scratch database of its own (a SQLite file, or a database created on a
//! server and dropped afterwards): the install step alone (the reference, when the package
//! has one), every step in order, and for each step `k` before the last, steps `1..=k` as a
//! version of their own (the header's version with the pre-release `paths.k`) upgraded to the
//! package. The schemas are read from each database's own catalog (see `wasmig-schema`) and
//! compared object by object with the reference.

use std::path::{Path, PathBuf};

use semver::{Prerelease, Version};
use serde::Serialize;
use wasmig_db::Database;
use wasmig_manifest::Package;
use wasmig_schema::Schema;

use crate::scratch::{ScratchDatabase, ScratchServer};
use crate::{ComponentCache, Host, Result, Settings};

/// One way of reaching the module's version, and how its schema differs from the reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathCheck {
    /// `install`, `steps 001-003`, or `steps 001-002, then upgrade`.
    pub path: String,
    /// Why the path could not be run to the end (a step failed), if it could not.
    pub failure: Option<String>,
    /// How its schema differs from the reference's, object by object.
    pub differences: Vec<String>,
}

/// The result of [`verify_paths`] for one package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathsReport {
    /// The module.
    pub module: String,
    /// Its header's version.
    pub version: Version,
    /// The path the others are compared with.
    pub reference: PathCheck,
    /// The other paths.
    pub paths: Vec<PathCheck>,
}

impl PathsReport {
    /// True when every path ran and ended with the reference's schema.
    pub fn passed(&self) -> bool {
        std::iter::once(&self.reference)
            .chain(&self.paths)
            .all(|p| p.failure.is_none() && p.differences.is_empty())
    }
}

/// One stage of a path: the package cut to its first `steps` steps, with or without its
/// install step, at `version`.
#[derive(Debug, Clone)]
struct Stage {
    steps: usize,
    install: bool,
    version: Version,
}

/// Runs every path of the package in `dir` on scratch databases of `server` and compares
/// their schemas. Components are compiled through `cache` when given.
pub async fn verify_paths(
    dir: &Path,
    server: &ScratchServer,
    cache: Option<ComponentCache>,
) -> Result<PathsReport> {
    let package = load(dir)?;
    let header_path = dir.join("module.toml");
    let header = std::fs::read_to_string(&header_path).map_err(scratch_error(&header_path))?;
    let work = tempfile::tempdir().map_err(scratch_error(&std::env::temp_dir()))?;
    let runner = Runner {
        source: dir,
        package: &package,
        header: &header,
        work: work.path(),
        server,
        cache,
    };
    let mut checks = Vec::new();
    for (index, (label, stages)) in paths(&package).into_iter().enumerate() {
        checks.push(runner.run(index, label, &stages).await?);
    }
    let mut checks = checks.into_iter();
    let (reference_check, reference) = checks.next().expect("a package has at least one path");
    let paths = checks
        .map(|(mut check, schema)| {
            if let (Some(mine), Some(theirs)) = (&reference, &schema) {
                check.differences = mine
                    .compare(theirs)
                    .iter()
                    .map(|d| d.describe((&reference_check.path, &check.path)))
                    .collect();
            }
            check
        })
        .collect();
    Ok(PathsReport {
        module: package.manifest.name.clone(),
        version: package.manifest.version.clone(),
        reference: reference_check,
        paths,
    })
}

/// The package in `dir` (a module's directory, named after it).
fn load(dir: &Path) -> Result<Package> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = dir.parent().unwrap_or(Path::new("."));
    Ok(wasmig_manifest::load_module(parent, &name)?)
}

/// The paths to run, the reference first.
fn paths(package: &Package) -> Vec<(String, Vec<Stage>)> {
    let steps = package.steps.len();
    let version = &package.manifest.version;
    let latest = |install| Stage {
        steps,
        install,
        version: version.clone(),
    };
    let mut paths = Vec::new();
    if package.install.is_some() {
        paths.push(("install".to_owned(), vec![latest(true)]));
    }
    if steps > 0 {
        paths.push((format!("steps 001-{steps:03}"), vec![latest(false)]));
    }
    for k in 1..steps {
        let mut earlier = version.clone();
        earlier.pre = Prerelease::new(&format!("paths.{k}")).unwrap_or(Prerelease::EMPTY);
        let first = Stage {
            steps: k,
            install: false,
            version: earlier,
        };
        paths.push((
            format!("steps 001-{k:03}, then upgrade"),
            vec![first, latest(false)],
        ));
    }
    paths
}

/// Runs paths of one package.
struct Runner<'a> {
    /// The package's directory.
    source: &'a Path,
    package: &'a Package,
    header: &'a str,
    work: &'a Path,
    server: &'a ScratchServer,
    cache: Option<ComponentCache>,
}

impl Runner<'_> {
    /// Runs path number `index` on a scratch database of its own; returns its check and the
    /// schema it ended with (none when a stage failed).
    async fn run(
        &self,
        index: usize,
        label: String,
        stages: &[Stage],
    ) -> Result<(PathCheck, Option<Schema>)> {
        let name = format!("wasmig_paths_{}_{index}", std::process::id());
        let module = [self.package.manifest.name.as_str()];
        let scratch = ScratchDatabase::create(self.server, self.work, &name, &module).await?;
        let outcome = self.run_on(&scratch.url, index, stages).await;
        scratch.drop_database().await?;
        let (failure, schema) = match outcome? {
            Ok(schema) => (None, Some(schema)),
            Err(failure) => (Some(failure), None),
        };
        let check = PathCheck {
            path: label,
            failure,
            differences: Vec::new(),
        };
        Ok((check, schema))
    }

    /// The stages of a path on the database at `url`: the schema it ends with, or why a stage
    /// failed.
    async fn run_on(
        &self,
        url: &str,
        index: usize,
        stages: &[Stage],
    ) -> Result<std::result::Result<Schema, String>> {
        let modules = self.work.join(format!("modules-{index}"));
        for stage in stages {
            self.write_stage(&modules, stage)?;
            let settings = Settings {
                component_cache: self.cache.clone(),
                ..Settings::default()
            };
            let host = Host::open_with(url, modules.clone(), settings).await?;
            let report = host.upgrade(&[], |_| {}).await?;
            host.database().close().await;
            if let Some(failure) = report.failures().next() {
                let step = failure.step.as_deref().unwrap_or("(before any step)");
                return Ok(Err(format!("{} {step}: {}", stage.version, failure.reason)));
            }
        }
        let db = Database::connect(url).await?;
        let schema = Schema::read(&db).await;
        db.close().await;
        Ok(Ok(schema?))
    }

    /// Writes the package cut to `stage` as the only module of `modules`.
    fn write_stage(&self, modules: &Path, stage: &Stage) -> Result<()> {
        let name = &self.package.manifest.name;
        let dir = modules.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        let mut files: Vec<(PathBuf, &[u8])> = Vec::new();
        let header = with_version(self.header, &stage.version);
        files.push((dir.join("module.toml"), header.as_bytes()));
        let relative = |artifact: &wasmig_manifest::Artifact| {
            let inner = artifact
                .path
                .strip_prefix(self.source)
                .unwrap_or(&artifact.path);
            dir.join(inner)
        };
        if stage.install
            && let Some(install) = &self.package.install
        {
            files.push((relative(install), &install.bytes));
        }
        for step in self.package.steps.iter().take(stage.steps) {
            files.push((relative(&step.artifact), &step.artifact.bytes));
        }
        for (path, bytes) in files {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(scratch_error(parent))?;
            }
            std::fs::write(&path, bytes).map_err(scratch_error(&path))?;
        }
        Ok(())
    }
}

/// `header` with its `version` line set to `version`.
fn with_version(header: &str, version: &Version) -> String {
    header
        .lines()
        .map(|line| {
            let key = line.split('=').next().unwrap_or_default().trim();
            if key == "version" {
                format!("version = \"{version}\"")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn scratch_error(path: &Path) -> impl FnOnce(std::io::Error) -> crate::Error + '_ {
    move |cause| crate::Error::Scratch {
        path: path.to_owned(),
        cause,
    }
}
