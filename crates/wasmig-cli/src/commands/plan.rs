//! `wasmig plan`: the dry run.

use std::process::ExitCode;

use clap::Args;
use wasmig_engine::Action;

use crate::options::{RunArgs, Target};
use crate::output;

// What an upgrade would do, without doing it.
#[derive(Debug, Args)]
pub struct Plan {
    /// Modules to preview (default: all).
    #[arg(value_name = "MODULE")]
    names: Vec<String>,
    /// Prints JSON instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    limits: RunArgs,
}

impl Plan {
    pub async fn execute(self, target: &Target) -> anyhow::Result<ExitCode> {
        let host = target.open(self.limits.settings(None)).await?;
        let dry_run = host.plan(&self.names).await?;
        let mut stdout = std::io::stdout().lock();
        if self.json {
            output::json(&mut stdout, &dry_run)?;
        } else {
            output::dry_run(&mut stdout, &dry_run)?;
        }
        let clean = dry_run.modules.iter().all(|m| {
            !matches!(m.plan.action, Action::Refused { .. })
                && m.steps.iter().all(|s| s.error.is_none())
        });
        Ok(if clean {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }
}
