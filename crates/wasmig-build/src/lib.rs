//! Builds module sources into installable packages.
//!
//! A module's source directory looks like its package, with crates where components go:
//!
//! ```text
//! <src>/module.toml                 the header, copied as is
//! <src>/install/Cargo.toml          optional: the install component's crate
//! <src>/migrations/001_slug/        one crate per step (a `cdylib` using `wasmig-guest`)
//! <src>/migrations/002_slug.sql     or a plain SQL step, copied as it is
//! <src>/install.sql, uninstall.sql  plain SQL install and uninstall steps, also copied
//! <src>/uninstall/Cargo.toml        or an uninstall component's crate
//! ```
//!
//! [`build_module`] runs `cargo build --release --target wasm32-wasip2` for those crates and
//! writes `<out>/<name>/` with `module.toml`, the step files and `checksums.sha256`, then reads
//! the result back with [`wasmig_manifest::load_module`], so a package it writes is one the
//! host accepts.

use std::collections::BTreeMap;
use std::fs;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;
use wasmig_manifest::{Manifest, Package};

pub mod python;
pub mod scaffold;

/// The WIT package of this wasmig, which components are built against.
pub(crate) const WIT: &str = include_str!("../../../wit/migration.wit");

/// The WebAssembly target components are built for.
pub const TARGET: &str = "wasm32-wasip2";

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{}", .path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
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
    /// A tool that builds steps (componentize-py) failed or could not be installed.
    #[error("{tool}: {}: {message}", .path.display())]
    Tool {
        /// The tool.
        tool: String,
        /// The file it worked on, or where it lives.
        path: PathBuf,
        /// What went wrong and what to do.
        message: String,
    },
    /// The Rust toolchain lacks the WebAssembly target and it could not be added.
    #[error("the Rust target {TARGET} is missing: {hint}")]
    Target {
        /// What to do about it.
        hint: String,
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

    // Package path (relative to the module's directory, without extension) → source.
    let mut sources: BTreeMap<String, Source> = BTreeMap::new();
    for role in ["install", "uninstall"] {
        if let Some(source) = role_source(src, role)? {
            sources.insert(role.to_owned(), source);
        }
    }
    for (stem, source) in step_sources(&src.join("migrations"))? {
        sources.insert(format!("migrations/{stem}"), source);
    }
    let crates: Vec<&Path> = sources
        .values()
        .filter_map(|s| match s {
            Source::Crate(dir) => Some(dir.as_path()),
            Source::Sql(_) | Source::Python(_) => None,
        })
        .collect();
    let components = if crates.is_empty() {
        BTreeMap::new()
    } else {
        workspace_of(src)?;
        build_crates(src, &crates)?
    };

    let staging_root = out.join(format!(".build-{}", manifest.name));
    let staging = staging_root.join(&manifest.name);
    let _ = fs::remove_dir_all(&staging_root);
    fs::create_dir_all(staging.join("migrations")).map_err(io_error(&staging))?;
    fs::write(staging.join("module.toml"), header).map_err(io_error(&staging))?;
    for (path, source) in &sources {
        match source {
            Source::Crate(dir) => copy(&components[dir], &staging.join(format!("{path}.wasm")))?,
            Source::Sql(file) => copy(file, &staging.join(format!("{path}.sql")))?,
            Source::Python(file) => {
                python::build_step(file, &staging.join(format!("{path}.wasm")))?;
            }
        }
    }
    let unpinned = wasmig_manifest::load_module(&staging_root, &manifest.name)?;
    let checksums = staging.join(wasmig_manifest::CHECKSUMS_FILE);
    fs::write(
        &checksums,
        wasmig_manifest::checksum_list(&staging, &unpinned),
    )
    .map_err(io_error(&checksums))?;
    let package = wasmig_manifest::load_module(&staging_root, &manifest.name)?;

    let target = out.join(&manifest.name);
    if target.exists() {
        fs::remove_dir_all(&target).map_err(io_error(&target))?;
    }
    fs::rename(&staging, &target).map_err(io_error(&target))?;
    fs::remove_dir_all(&staging_root).map_err(io_error(&staging_root))?;
    Ok(package)
}

/// Where a step file comes from.
enum Source {
    /// A crate to build into a component.
    Crate(PathBuf),
    /// A SQL file to copy.
    Sql(PathBuf),
    /// A Python file to build into a component (see [`python`]).
    Python(PathBuf),
}

/// `<role>/` (a crate), `<role>.sql` or `<role>.py`, when the sources have one.
fn role_source(src: &Path, role: &str) -> Result<Option<Source>> {
    let dir = src.join(role);
    let mut found = Vec::new();
    if dir.join("Cargo.toml").is_file() {
        found.push(Source::Crate(canonical(&dir)?));
    }
    let sql = src.join(format!("{role}.sql"));
    if sql.is_file() {
        found.push(Source::Sql(sql));
    }
    let python = src.join(format!("{role}.py"));
    if python.is_file() {
        found.push(Source::Python(python));
    }
    if found.len() > 1 {
        return Err(Error::Layout {
            path: src.join(role),
            message: format!(
                "more than one of `{role}/`, `{role}.sql` and `{role}.py` exist; keep one"
            ),
        });
    }
    Ok(found.pop())
}

/// `migrations/NNN_slug/` crate directories and `NNN_slug.sql` files by step stem, in order.
fn step_sources(dir: &Path) -> Result<BTreeMap<String, Source>> {
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
        let file = [(".sql", false), (".py", true)]
            .into_iter()
            .find_map(|(suffix, python)| Some((stem.strip_suffix(suffix)?, python)))
            .filter(|(file_stem, _)| {
                wasmig_manifest::parse_step_stem(file_stem).is_some() && path.is_file()
            });
        if let Some((file_stem, python)) = file {
            let source = if python {
                Source::Python(path.clone())
            } else {
                Source::Sql(path.clone())
            };
            if steps.insert(file_stem.to_owned(), source).is_some() {
                return Err(Error::Layout {
                    path,
                    message: format!("step {file_stem} has more than one source; keep one"),
                });
            }
            continue;
        }
        if wasmig_manifest::parse_step_stem(&stem).is_none() || !path.join("Cargo.toml").is_file() {
            return Err(Error::Layout {
                path,
                message: "expected a crate directory named NNN_slug (three digits, a slug of a-z, 0-9 and _) or a file NNN_slug.sql or NNN_slug.py".into(),
            });
        }
        if steps
            .insert(stem.clone(), Source::Crate(canonical(&path)?))
            .is_some()
        {
            return Err(Error::Layout {
                path,
                message: format!("step {stem} has more than one source; keep one"),
            });
        }
    }
    Ok(steps)
}

/// The cargo manifest of the workspace the module's crates build in: the nearest
/// `Cargo.toml` at or above `src`.
fn workspace_of(src: &Path) -> Result<PathBuf> {
    let src = canonical(src)?;
    src.ancestors()
        .map(|dir| dir.join("Cargo.toml"))
        .find(|manifest| manifest.is_file())
        .ok_or_else(|| Error::Layout {
            path: src.clone(),
            message: "the module has Rust steps but no Cargo.toml at or above it: its crates \
                      build in a cargo workspace with a release profile (`wasmig new` makes \
                      one; `wasmig add-step DIR SLUG --rust` adds it to a SQL module)"
                .into(),
        })
}

/// Makes sure the toolchain has [`TARGET`]: when it is missing, `rustup target add` adds it
/// (announced on stderr); without rustup the error says what to install.
pub fn ensure_target() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .stderr(Stdio::null())
        .output();
    let Ok(installed) = installed else {
        return sysroot_has_target()
            .then_some(())
            .ok_or_else(|| Error::Target {
                hint: format!(
                    "install it for your Rust toolchain (with rustup: `rustup target add {TARGET}`)"
                ),
            });
    };
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|line| line.trim() == TARGET)
    {
        return Ok(());
    }
    eprintln!("wasmig: adding the Rust target {TARGET} (rustup target add {TARGET})");
    let added = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status();
    match added {
        Ok(status) if status.success() => Ok(()),
        _ => Err(Error::Target {
            hint: format!("`rustup target add {TARGET}` failed; run it yourself and build again"),
        }),
    }
}

/// True when the active `rustc`'s sysroot holds [`TARGET`]'s standard library.
fn sysroot_has_target() -> bool {
    Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        .is_some_and(|sysroot| sysroot.join("lib/rustlib").join(TARGET).is_dir())
}

/// Builds the given crates (all in the cargo workspace around `dir`) for [`TARGET`] in release
/// mode; returns each crate directory's component.
pub fn build_crates(dir: &Path, crates: &[&Path]) -> Result<BTreeMap<PathBuf, PathBuf>> {
    ensure_target()?;
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
    ensure_target()?;
    let mut command = cargo_build(dir);
    command.arg("--workspace");
    run_cargo(command, dir)
}

fn cargo_build(dir: &Path) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(dir)
        // cargo's progress goes to stderr, as it comes (a first build takes a minute).
        .args(["build", "--release", "--target", TARGET])
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
