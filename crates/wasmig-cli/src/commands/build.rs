//! `wasmig build`: module sources into packages, then install ≡ upgrade checked on SQLite.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use wasmig_engine::{ScratchServer, verify_paths};

use crate::options::Target;

// The module sources to build.
#[derive(Debug, Args)]
pub struct Build {
    /// Module source directories: module.toml, install/ and migrations/NNN_slug/ crates.
    #[arg(required = true, value_name = "SRC")]
    sources: Vec<PathBuf>,
    /// Reports a package whose fresh install and upgrades end with different schemas (see
    /// `verify --paths`) without failing the build.
    #[arg(long)]
    only_warn: bool,
}

impl Build {
    pub async fn execute(self, target: &Target) -> anyhow::Result<ExitCode> {
        let mut passed = true;
        for source in &self.sources {
            let package = wasmig_build::build_module(source, &target.modules)
                .with_context(|| format!("building {}", source.display()))?;
            let install = if package.install.is_some() {
                ", install"
            } else {
                ""
            };
            let dir = target.modules.join(&package.manifest.name);
            writeln!(
                std::io::stdout(),
                "built {} {} ({}{install}) into {}",
                package.manifest.name,
                package.manifest.version,
                crate::output::steps(package.steps.len()),
                dir.display()
            )?;
            let paths = verify_paths(&dir, &ScratchServer::Sqlite, target.component_cache()?)
                .await
                .with_context(|| {
                    format!(
                        "checking the install and upgrade paths of {}",
                        dir.display()
                    )
                })?;
            if !paths.passed() {
                passed = false;
                let mut stderr = std::io::stderr().lock();
                writeln!(stderr, "install and upgrade paths differ (on SQLite):")?;
                crate::output::paths(&mut stderr, &paths)?;
            }
        }
        Ok(if passed || self.only_warn {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }
}
