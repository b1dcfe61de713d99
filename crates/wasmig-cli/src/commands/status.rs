//! `wasmig status`.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use wasmig_engine::Settings;

use crate::options::Target;
use crate::output;

// Every module, its versions and what an upgrade would do.
#[derive(Debug, Args)]
pub struct Status {
    /// Prints JSON instead of a table.
    #[arg(long)]
    json: bool,
}

impl Status {
    pub async fn execute(self, target: &Target) -> anyhow::Result<ExitCode> {
        let host = target.open(Settings::default()).await?;
        let plans = host.status().await?;
        let mut stdout = std::io::stdout().lock();
        if self.json {
            output::json(&mut stdout, &plans)?;
        } else {
            output::status_table(&mut stdout, &plans, &target.modules)?;
            writeln!(stdout, "security: {}", host.enforcement().await?)?;
        }
        Ok(ExitCode::SUCCESS)
    }
}
