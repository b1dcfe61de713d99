//! `wasmig history`.

use std::process::ExitCode;

use clap::Args;
use wasmig_engine::Settings;

use crate::options::Target;
use crate::output;

// Whose history, and how to print it.
#[derive(Debug, Args)]
pub struct History {
    /// Only this module's steps.
    #[arg(value_name = "MODULE")]
    module: Option<String>,
    /// Prints JSON instead of a table.
    #[arg(long)]
    json: bool,
}

impl History {
    pub async fn execute(self, target: &Target) -> anyhow::Result<ExitCode> {
        let host = target.open(Settings::default()).await?;
        let entries = host.history(self.module.as_deref()).await?;
        let mut stdout = std::io::stdout().lock();
        if self.json {
            output::json(&mut stdout, &entries)?;
        } else {
            output::history_table(&mut stdout, &entries)?;
        }
        Ok(ExitCode::SUCCESS)
    }
}
