//! New module sources, and new steps in them, laid out the way [`build_module`] builds them.
//!
//! A Rust module is a cargo workspace of its own: its `Cargo.toml` holds the release profile
//! that keeps components small, and the SDK (`wasmig-guest`, with the WIT package it binds)
//! is vendored under `.wasmig/` at the version of this wasmig, so that a module builds offline
//! and against the host API this wasmig serves.
//!
//! [`build_module`]: crate::build_module

use std::fs;
use std::path::{Path, PathBuf};

use wasmig_manifest::Manifest;

use crate::{Error, Result, io_error};

/// The language of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// A Rust crate built into a component.
    Rust,
    /// A plain SQL file.
    Sql,
    /// A Python file built into a component with componentize-py.
    Python,
}

/// The host API a new module asks for: this wasmig's WIT package version.
const HOST_API: &str = "^0.1.2";

/// The SDK's sources, vendored into each Rust module (path under `.wasmig/`, contents).
const SDK: &[(&str, &str)] = &[
    (
        "sdk/wasmig-guest/src/lib.rs",
        include_str!("../../wasmig-guest/src/lib.rs"),
    ),
    (
        "sdk/wasmig-guest/src/db.rs",
        include_str!("../../wasmig-guest/src/db.rs"),
    ),
    (
        "sdk/wasmig-guest/src/cursor.rs",
        include_str!("../../wasmig-guest/src/cursor.rs"),
    ),
    (
        "sdk/wasmig-guest/src/error.rs",
        include_str!("../../wasmig-guest/src/error.rs"),
    ),
    (
        "sdk/wasmig-guest/src/value.rs",
        include_str!("../../wasmig-guest/src/value.rs"),
    ),
    // The SDK binds `../../wit` from its crate directory.
    (
        "wit/migration.wit",
        include_str!("../../../wit/migration.wit"),
    ),
];

/// The SDK's own manifest, whose dependencies the vendored copy keeps.
const SDK_MANIFEST: &str = include_str!("../../wasmig-guest/Cargo.toml");

/// Creates the sources of module `name` in `dir` (which must not exist or be empty): its
/// header at version 0.1.0, an install step and a first step that create `<name>_items`, in
/// Rust (a cargo workspace with the SDK vendored) or in SQL. Returns the files written.
pub fn new_module(dir: &Path, name: &str, language: Language) -> Result<Vec<PathBuf>> {
    let header = format!(
        "# The module's header: its name prefixes every table it creates; raise `version`\n\
         # with every new step, so that hosts upgrade.\n\
         name = \"{name}\"\n\
         version = \"0.1.0\"\n\
         # The wasmig host API the module's components need.\n\
         host-api = \"{HOST_API}\"\n"
    );
    Manifest::parse(&header, &dir.join("module.toml"))?;
    if fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(Error::Layout {
            path: dir.to_owned(),
            message: "the directory exists and is not empty: pick a new one".into(),
        });
    }
    let mut files = Files::new(dir);
    files.write("module.toml", &header)?;
    files.write(".gitignore", "/target\n")?;
    let table = format!("{name}_items");
    match language {
        Language::Sql | Language::Python => {
            let create = format!(
                "CREATE TABLE {table} (\n    id INTEGER PRIMARY KEY,\n    title VARCHAR(200) NOT NULL\n);\n"
            );
            files.write(
                "install.sql",
                &format!(
                    "-- Creates the module's latest schema on a fresh database, in one go: keep it\n\
                     -- equal to what all the steps make together.\n{create}"
                ),
            )?;
            if language == Language::Sql {
                files.write("migrations/001_create_items.sql", &create)?;
            } else {
                files.write(
                    "migrations/001_create_items.py",
                    &format!(
                        "\"\"\"Step 001: creates `{table}`.\"\"\"\n\
                         import wasmig\n\n\n\
                         def up(db: wasmig.Db) -> None:\n    \
                         db.execute(\"CREATE TABLE {table} (id INTEGER PRIMARY KEY, \
                         title VARCHAR(200) NOT NULL)\")\n"
                    ),
                )?;
            }
        }
        Language::Rust => {
            write_workspace(&mut files)?;
            let up = format!(
                "    db.execute(\n        \"CREATE TABLE {table} (id INTEGER PRIMARY KEY, title VARCHAR(200) NOT NULL)\",\n        params![],\n    )?;\n    Ok(())\n"
            );
            write_crate(
                &mut files,
                "install",
                &format!("{name}-install"),
                "Creates the module's latest schema on a fresh database, in one go: keep it equal to what\n//! all the steps make together.",
                &up,
            )?;
            write_crate(
                &mut files,
                "migrations/001_create_items",
                &format!("{name}-001-create-items"),
                &format!("Step 001: creates `{table}`."),
                &up,
            )?;
        }
    }
    Ok(files.written)
}

/// Adds the next numbered step `NNN_slug` to the module sources in `dir`, as a Rust crate
/// (the cargo workspace and the SDK are added first when the module has none) or a SQL file.
/// Its body fails until it is written. Returns the files written.
pub fn add_step(dir: &Path, slug: &str, language: Language) -> Result<Vec<PathBuf>> {
    let header_path = dir.join("module.toml");
    let header = fs::read_to_string(&header_path).map_err(io_error(&header_path))?;
    let manifest = Manifest::parse(&header, &header_path)?;
    let number = next_number(&dir.join("migrations"))?;
    let stem = format!("{number:03}_{slug}");
    if wasmig_manifest::parse_step_stem(&stem).is_none() {
        return Err(Error::Layout {
            path: dir.join("migrations").join(&stem),
            message: "a step's slug is made of a-z, 0-9 and _".into(),
        });
    }
    let mut files = Files::new(dir);
    match language {
        Language::Sql => files.write(
            &format!("migrations/{stem}.sql"),
            &format!(
                "-- Step {stem} of {}: one statement after another, each ending with `;`.\n\
                 -- Once applied anywhere, this file must not change (a comment included): its\n\
                 -- checksum is recorded.\n",
                manifest.name
            ),
        )?,
        Language::Python => files.write(
            &format!("migrations/{stem}.py"),
            &format!(
                "\"\"\"Step {stem} of {}.\"\"\"\n\
                 import wasmig\n\n\n\
                 def up(db: wasmig.Db) -> None:\n    \
                 # db.execute(\"ALTER TABLE … ADD COLUMN …\", [])\n    \
                 raise wasmig.Error(\"step {stem} is not written yet: see migrations/{stem}.py\")\n",
                manifest.name
            ),
        )?,
        Language::Rust => {
            if !dir.join("Cargo.toml").is_file() {
                write_workspace(&mut files)?;
            }
            let package = format!("{}-{}", manifest.name, stem.replace('_', "-"));
            let up = format!(
                "    // db.execute(\"ALTER TABLE … ADD COLUMN …\", wasmig_guest::params![])?;\n    \
                 let _ = db;\n    \
                 Err(Error::msg(\"step {stem} is not written yet: see migrations/{stem}/src/lib.rs\"))\n"
            );
            write_crate(
                &mut files,
                &format!("migrations/{stem}"),
                &package,
                &format!("Step {stem} of {}.", manifest.name),
                &up,
            )?;
        }
    }
    Ok(files.written)
}

/// The number after the highest step in `migrations` (1 when there is none).
fn next_number(migrations: &Path) -> Result<u32> {
    let entries = match fs::read_dir(migrations) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(1),
        Err(e) => return Err(io_error(migrations)(e)),
    };
    let mut highest = 0;
    for entry in entries {
        let name = entry.map_err(io_error(migrations))?.file_name();
        let name = name.to_string_lossy();
        let stem = name.split('.').next().unwrap_or_default();
        if let Some((number, _)) = wasmig_manifest::parse_step_stem(stem) {
            highest = highest.max(number);
        }
    }
    Ok(highest + 1)
}

/// The module's cargo workspace and the vendored SDK.
fn write_workspace(files: &mut Files) -> Result<()> {
    let install = if files.root.join("install.sql").is_file() {
        ""
    } else {
        "\"install\", "
    };
    files.write(
        "Cargo.toml",
        &format!(
            "# The module's components: one crate per step (and the install step), built by\n\
             # `wasmig build` for wasm32-wasip2.\n\
             [workspace]\n\
             resolver = \"3\"\n\
             members = [{install}\"migrations/*\"]\n\n\
             [workspace.dependencies]\n\
             wasmig-guest = {{ path = \".wasmig/sdk/wasmig-guest\" }}\n\n\
             # Small components: they are compiled and cached by every host that installs them.\n\
             [profile.release]\n\
             opt-level = \"s\"\n\
             lto = true\n\
             codegen-units = 1\n\
             strip = true\n\
             panic = \"abort\"\n"
        ),
    )?;
    let dependencies = SDK_MANIFEST
        .split_once("[dependencies]")
        .map(|(_, rest)| rest.split("\n[").next().unwrap_or_default().trim())
        .unwrap_or_default();
    files.write(
        ".wasmig/sdk/wasmig-guest/Cargo.toml",
        &format!(
            "# The wasmig SDK, vendored by `wasmig new` from wasmig {}.\n\
             [package]\n\
             name = \"wasmig-guest\"\n\
             version = \"{}\"\n\
             edition = \"2024\"\n\
             publish = false\n\n\
             [dependencies]\n\
             {dependencies}\n",
            env!("CARGO_PKG_VERSION"),
            env!("CARGO_PKG_VERSION"),
        ),
    )?;
    for (path, text) in SDK {
        files.write(&format!(".wasmig/{path}"), text)?;
    }
    Ok(())
}

/// A step's crate at `path`: its manifest and a `lib.rs` whose `up` has `body`.
fn write_crate(files: &mut Files, path: &str, package: &str, doc: &str, body: &str) -> Result<()> {
    files.write(
        &format!("{path}/Cargo.toml"),
        &format!(
            "[package]\n\
             name = \"{package}\"\n\
             version = \"0.1.0\"\n\
             edition = \"2024\"\n\
             publish = false\n\n\
             [lib]\n\
             crate-type = [\"cdylib\"]\n\n\
             [dependencies]\n\
             wasmig-guest.workspace = true\n"
        ),
    )?;
    let uses = if body.contains("Error::msg") {
        "Db, Error, Result"
    } else {
        "Db, Result, params"
    };
    files.write(
        &format!("{path}/src/lib.rs"),
        &format!(
            "//! {doc}\n\
             use wasmig_guest::{{{uses}}};\n\n\
             /// Runs in the step's transaction; an error (or a panic) rolls it back.\n\
             fn up(db: &Db) -> Result<()> {{\n{body}}}\n\n\
             wasmig_guest::migration!(up);\n"
        ),
    )
}

/// Files written under a root, refusing to overwrite any.
struct Files {
    root: PathBuf,
    written: Vec<PathBuf>,
}

impl Files {
    fn new(root: &Path) -> Self {
        Files {
            root: root.to_owned(),
            written: Vec::new(),
        }
    }

    fn write(&mut self, relative: &str, text: &str) -> Result<()> {
        let path = self.root.join(relative);
        if path.exists() {
            return Err(Error::Layout {
                path,
                message: "already exists; nothing was overwritten".into(),
            });
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io_error(parent))?;
        }
        fs::write(&path, text).map_err(io_error(&path))?;
        self.written.push(path);
        Ok(())
    }
}
