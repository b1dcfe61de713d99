//! `wasmig diff`: what changed in a module's objects since its last step.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use wasmig_engine::Settings;

use crate::options::Target;

// The module to compare.
#[derive(Debug, Args)]
pub struct Diff {
    /// The module whose objects to compare with what its last upgrade left.
    module: String,
}

impl Diff {
    pub async fn execute(self, target: &Target) -> anyhow::Result<ExitCode> {
        let host = target.open(Settings::default()).await?;
        let drift = host.drift().await?;
        let mut stdout = std::io::stdout().lock();
        let Some(drifted) = drift.iter().find(|d| d.module == self.module) else {
            writeln!(
                stdout,
                "{}: no change outside its steps since its last upgrade",
                self.module
            )?;
            return Ok(ExitCode::SUCCESS);
        };
        if drifted.stale {
            writeln!(stdout, "{}: {}", drifted.module, drifted.lines()[0])?;
            return Ok(ExitCode::FAILURE);
        }
        writeln!(
            stdout,
            "{}: changed outside its steps since {}:",
            drifted.module, drifted.recorded_at
        )?;
        for line in drifted.lines() {
            for part in line.lines() {
                writeln!(stdout, "  {part}")?;
            }
        }
        // Like `diff`, non-zero when something differs.
        Ok(ExitCode::FAILURE)
    }
}
