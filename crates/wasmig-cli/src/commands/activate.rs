//! `wasmig activate`.

use std::process::ExitCode;

use clap::Args;

use super::steps::{finish, interactive, stop_on_ctrl_c};
use crate::options::{RunArgs, SafetyArgs, Target};
use crate::output;

// The module to activate, and how its steps run.
#[derive(Debug, Args)]
pub struct Activate {
    /// The module.
    #[arg(value_name = "MODULE")]
    module: String,
    #[command(flatten)]
    limits: RunArgs,
    #[command(flatten)]
    safety: SafetyArgs,
}

impl Activate {
    pub async fn execute(self, target: &Target) -> anyhow::Result<ExitCode> {
        let host = target
            .open(self.limits.settings(Some(&self.safety)))
            .await?;
        let mut stdout = std::io::stdout().lock();
        let mut progress = output::Progress::new(&mut stdout, interactive());
        let report =
            stop_on_ctrl_c(&host, host.activate(&self.module, |e| progress.event(e))).await?;
        finish(progress, &report)
    }
}
