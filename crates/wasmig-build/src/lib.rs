//! Builds module sources into installable packages.
//!
//! A module's source directory looks like its package, with crates where components go:
//!
//! ```text
//! <src>/module.toml                 the header, copied as is
//! <src>/install/Cargo.toml          optional: the install component's crate
//! <src>/migrations/001_slug/        one crate per step (a `cdylib` using `wasmig-guest`)
//! ```
//!
//! [`build_module`] runs `cargo build --release --target wasm32-wasip2` for those crates and
//! writes `<out>/<name>/` with `module.toml`, `install.wasm` and `migrations/NNN_slug.wasm`,
//! then reads the result back with [`wasmig_manifest::load_module`], so a package it writes is
//! one the host accepts.

use std::collections::BTreeMap;
use std::fs;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;
use wasmig_manifest::{Manifest, Package};

/// The WebAssembly target components are built for.
pub const TARGET: &str = "wasm32-wasip2";

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{}: {cause}", .path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        cause: std::io::Error,
    },
    /// The sources are not laid out as a module.
    #[error("{}: {message}", .path.display())]
    Layout {
        /// The offending path.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// cargo failed; its diagnostics were printed to stderr.
    #[error("cargo build failed in {} ({status}); see its output above", .dir.display())]
    Cargo {
        /// Where cargo ran.
        dir: PathBuf,
        /// How it exited.
        status: String,
    },
    /// The assembled package does not load.
    #[error(transparent)]
    Package(#[from] wasmig_manifest::Error),
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |cause| Error::Io {
        path: path.to_owned(),
        cause,
    }
}

/// Builds the module whose sources are in `src` and writes its package to `<out>/<name>/`,
/// replacing an older build of it. Returns the loaded package.
pub fn build_module(src: &Path, out: &Path) -> Result<Package> {
    let manifest_path = src.join("module.toml");
    let header = fs::read_to_string(&manifest_path).map_err(io_error(&manifest_path))?;
    let manifest = Manifest::parse(&header, &manifest_path)?;

    let install = src.join("install");
    let install = match install.join("Cargo.toml").is_file() {
        true => Some(canonical(&install)?),
        false => None,
    };
    let steps = step_crates(&src.join("migrations"))?;
    let crates: Vec<&Path> = install
        .iter()
        .map(PathBuf::as_path)
        .chain(steps.values().map(PathBuf::as_path))
        .collect();
    let components = build_crates(src, &crates)?;

    let staging_root = out.join(format!(".build-{}", manifest.name));
    let staging = staging_root.join(&manifest.name);
    let _ = fs::remove_dir_all(&staging_root);
    fs::create_dir_all(staging.join("migrations")).map_err(io_error(&staging))?;
    fs::write(staging.join("module.toml"), header).map_err(io_error(&staging))?;
    if let Some(install) = &install {
        copy(&components[install], &staging.join("install.wasm"))?;
    }
    for (stem, dir) in &steps {
        copy(
            &components[dir],
            &staging.join("migrations").join(format!("{stem}.wasm")),
        )?;
    }
    let package = wasmig_manifest::load_module(&staging_root, &manifest.name)?;

    let target = out.join(&manifest.name);
    if target.exists() {
        fs::remove_dir_all(&target).map_err(io_error(&target))?;
    }
    fs::rename(&staging, &target).map_err(io_error(&target))?;
    fs::remove_dir_all(&staging_root).map_err(io_error(&staging_root))?;
    Ok(package)
}

/// `migrations/NNN_slug/` crate directories by step stem, in order.
fn step_crates(dir: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let mut steps = BTreeMap::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(steps),
        Err(e) => return Err(io_error(dir)(e)),
    };
    for entry in entries {
        let path = entry.map_err(io_error(dir))?.path();
        let stem = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if stem.starts_with('.') {
            continue;
        }
        if wasmig_manifest::parse_step_stem(&stem).is_none() || !path.join("Cargo.toml").is_file() {
            return Err(Error::Layout {
                path,
                message: "expected a crate directory named NNN_slug (three digits, a slug of a-z, 0-9 and _)".into(),
            });
        }
        steps.insert(stem, canonical(&path)?);
    }
    Ok(steps)
}

/// Builds the given crates (all in the cargo workspace around `dir`) for [`TARGET`] in release
/// mode; returns each crate directory's component.
pub fn build_crates(dir: &Path, crates: &[&Path]) -> Result<BTreeMap<PathBuf, PathBuf>> {
    let mut command = cargo_build(dir);
    for krate in crates {
        command.arg("--package").arg(package_name(krate)?);
    }
    let components = run_cargo(command, dir)?;
    crates
        .iter()
        .map(|krate| {
            let krate = canonical(krate)?;
            match components.get(&krate) {
                Some(wasm) => Ok((krate, wasm.clone())),
                None => Err(Error::Layout {
                    path: krate,
                    message: "cargo produced no component for this crate: is it a `cdylib`?".into(),
                }),
            }
        })
        .collect()
}

/// Builds every crate of the cargo workspace whose manifest is `manifest`; returns each crate
/// directory's component.
pub fn build_workspace(manifest: &Path) -> Result<BTreeMap<PathBuf, PathBuf>> {
    let dir = manifest.parent().unwrap_or(Path::new("."));
    let mut command = cargo_build(dir);
    command.arg("--workspace");
    run_cargo(command, dir)
}

fn cargo_build(dir: &Path) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(dir)
        .args(["build", "--quiet", "--release", "--target", TARGET])
        .arg("--message-format=json-render-diagnostics")
        .stdout(Stdio::piped());
    command
}

/// One line of cargo's JSON output; only compiled artifacts matter here.
#[derive(Deserialize)]
struct Message {
    reason: String,
    manifest_path: Option<PathBuf>,
    #[serde(default)]
    filenames: Vec<PathBuf>,
}

fn run_cargo(mut command: Command, dir: &Path) -> Result<BTreeMap<PathBuf, PathBuf>> {
    let mut child = command.spawn().map_err(io_error(dir))?;
    let mut components = BTreeMap::new();
    let stdout = child.stdout.take().expect("stdout is piped");
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.map_err(io_error(dir))?;
        let Ok(message) = serde_json::from_str::<Message>(&line) else {
            continue;
        };
        let Some(manifest) = message
            .manifest_path
            .filter(|_| message.reason == "compiler-artifact")
        else {
            continue;
        };
        let wasm = message
            .filenames
            .into_iter()
            .find(|f| f.extension().is_some_and(|e| e == "wasm"));
        if let (Some(krate), Some(wasm)) = (manifest.parent(), wasm) {
            components.insert(krate.to_owned(), wasm);
        }
    }
    let status = child.wait().map_err(io_error(dir))?;
    if !status.success() {
        return Err(Error::Cargo {
            dir: dir.to_owned(),
            status: status.to_string(),
        });
    }
    Ok(components)
}

fn package_name(krate: &Path) -> Result<String> {
    #[derive(Deserialize)]
    struct CargoToml {
        package: PackageSection,
    }
    #[derive(Deserialize)]
    struct PackageSection {
        name: String,
    }
    let path = krate.join("Cargo.toml");
    let text = fs::read_to_string(&path).map_err(io_error(&path))?;
    let parsed: CargoToml = toml::from_str(&text).map_err(|e| Error::Layout {
        path: path.clone(),
        message: e.message().to_owned(),
    })?;
    Ok(parsed.package.name)
}

fn canonical(path: &Path) -> Result<PathBuf> {
    path.canonicalize().map_err(io_error(path))
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    fs::copy(from, to).map_err(io_error(from))?;
    Ok(())
}
