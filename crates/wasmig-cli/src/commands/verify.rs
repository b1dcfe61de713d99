//! `wasmig verify`: checks packages without a database.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use wasmig_engine::{Limits, Runtime, Verification, verify_package};

use crate::output;

// The packages to check.
#[derive(Debug, Args)]
pub struct Verify {
    /// Module directories (each holding a module.toml).
    #[arg(required = true, value_name = "DIR")]
    packages: Vec<PathBuf>,
    /// Prints JSON instead of text.
    #[arg(long)]
    json: bool,
}

impl Verify {
    pub async fn execute(self) -> anyhow::Result<ExitCode> {
        let runtime = Runtime::new(Limits::default())?;
        let mut results = Vec::new();
        for dir in &self.packages {
            results.push(verify_package(&runtime, dir).await);
        }
        let mut stdout = std::io::stdout().lock();
        if self.json {
            output::json(&mut stdout, &results)?;
        } else {
            for result in &results {
                output::verification(&mut stdout, result)?;
            }
        }
        Ok(if results.iter().all(Verification::passed) {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }
}
