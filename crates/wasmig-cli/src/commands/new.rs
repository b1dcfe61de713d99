//! `wasmig new` and `wasmig add-step`: module sources for authors.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use wasmig_build::scaffold::{self, Language};

// The module to create.
#[derive(Debug, Args)]
pub struct New {
    /// The module's name: a-z, 0-9 and _, starting with a letter; it prefixes its tables.
    name: String,
    /// Where to create it (default: ./NAME); must not exist or be empty.
    #[arg(long, value_name = "DIR")]
    path: Option<PathBuf>,
    /// Plain SQL steps instead of Rust components.
    #[arg(long, conflicts_with = "python")]
    sql: bool,
    /// Python steps (built with componentize-py, which `build` installs from PyPI when
    /// missing), with an install step in SQL.
    #[arg(long)]
    python: bool,
}

impl New {
    pub fn execute(self) -> anyhow::Result<ExitCode> {
        let dir = self.path.unwrap_or_else(|| PathBuf::from(&self.name));
        let language = match (self.sql, self.python) {
            (true, _) => Language::Sql,
            (_, true) => Language::Python,
            _ => Language::Rust,
        };
        let files = scaffold::new_module(&dir, &self.name, language)
            .with_context(|| format!("creating module {} in {}", self.name, dir.display()))?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "created module {} in {}", self.name, dir.display())?;
        list(&mut stdout, &dir, &files)?;
        writeln!(
            stdout,
            "next: wasmig build {0}, then wasmig upgrade; add steps with wasmig add-step {0} SLUG",
            dir.display()
        )?;
        Ok(ExitCode::SUCCESS)
    }
}

// The step to add.
#[derive(Debug, Args)]
pub struct AddStep {
    /// The module's source directory (holding module.toml).
    dir: PathBuf,
    /// What the step does, in a-z, 0-9 and _ (e.g. add_status); it gets the next number.
    slug: String,
    /// A plain SQL step.
    #[arg(long, conflicts_with_all = ["rust", "python"])]
    sql: bool,
    /// A Rust component (the default); adds the cargo workspace to a SQL module.
    #[arg(long, conflicts_with = "python")]
    rust: bool,
    /// A Python step (`migrations/NNN_slug.py` with a function `up(db)`).
    #[arg(long)]
    python: bool,
}

impl AddStep {
    pub fn execute(self) -> anyhow::Result<ExitCode> {
        let language = match (self.sql, self.python) {
            (true, _) => Language::Sql,
            (_, true) => Language::Python,
            _ => Language::Rust,
        };
        let files = scaffold::add_step(&self.dir, &self.slug, language)
            .with_context(|| format!("adding step {} to {}", self.slug, self.dir.display()))?;
        let mut stdout = std::io::stdout().lock();
        list(&mut stdout, &self.dir, &files)?;
        writeln!(
            stdout,
            "next: write the step, raise `version` in {}, then wasmig build {}",
            self.dir.join("module.toml").display(),
            self.dir.display()
        )?;
        Ok(ExitCode::SUCCESS)
    }
}

/// Lists the files written under `dir`, the vendored SDK as one line.
fn list(out: &mut impl Write, dir: &Path, files: &[PathBuf]) -> std::io::Result<()> {
    let mut sdk = false;
    for file in files {
        let relative = file.strip_prefix(dir).unwrap_or(file);
        if relative.starts_with(".wasmig") {
            sdk = true;
            continue;
        }
        writeln!(out, "  {}", relative.display())?;
    }
    if sdk {
        writeln!(out, "  .wasmig/ (the wasmig SDK and WIT package, vendored)")?;
    }
    Ok(())
}
