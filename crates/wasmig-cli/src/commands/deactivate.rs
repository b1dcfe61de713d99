//! `wasmig deactivate`.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;

use crate::options::{LockArgs, Target};

// The module to leave alone.
#[derive(Debug, Args)]
pub struct Deactivate {
    /// The module.
    #[arg(value_name = "MODULE")]
    module: String,
    #[command(flatten)]
    lock: LockArgs,
}

impl Deactivate {
    pub async fn execute(self, target: &Target) -> anyhow::Result<ExitCode> {
        let host = target.open(self.lock.settings()).await?;
        host.deactivate(&self.module).await?;
        writeln!(
            std::io::stdout(),
            "{}: deactivated; its data and stored version are kept",
            self.module
        )?;
        Ok(ExitCode::SUCCESS)
    }
}
