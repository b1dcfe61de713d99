//! `wasmig build`: module sources into packages.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use crate::options::Target;

// The module sources to build.
#[derive(Debug, Args)]
pub struct Build {
    /// Module source directories: module.toml, install/ and migrations/NNN_slug/ crates.
    #[arg(required = true, value_name = "SRC")]
    sources: Vec<PathBuf>,
}

impl Build {
    pub fn execute(self, target: &Target) -> anyhow::Result<ExitCode> {
        let mut stdout = std::io::stdout().lock();
        for source in &self.sources {
            let package = wasmig_build::build_module(source, &target.modules)
                .with_context(|| format!("building {}", source.display()))?;
            let install = if package.install.is_some() {
                ", install"
            } else {
                ""
            };
            writeln!(
                stdout,
                "built {} {} ({}{install}) into {}",
                package.manifest.name,
                package.manifest.version,
                crate::output::steps(package.steps.len()),
                target.modules.join(&package.manifest.name).display()
            )?;
        }
        Ok(ExitCode::SUCCESS)
    }
}
