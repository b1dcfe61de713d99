//! `wasmig uninstall`.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;

use crate::options::{LockArgs, Target};

// The module to uninstall, confirmed.
#[derive(Debug, Args)]
pub struct Uninstall {
    /// The module.
    #[arg(value_name = "MODULE")]
    module: String,
    /// Confirms that the module's data may be dropped.
    #[arg(long)]
    yes: bool,
    /// Run the uninstall step even where only the SQL policy checks it (see `upgrade`).
    #[arg(long, env = "WASMIG_POLICY_ONLY", value_parser = clap::builder::BoolishValueParser::new())]
    policy_only: bool,
    #[command(flatten)]
    lock: LockArgs,
}

impl Uninstall {
    pub async fn execute(self, target: &Target) -> anyhow::Result<ExitCode> {
        let module = &self.module;
        if !self.yes {
            anyhow::bail!(
                "uninstalling {module} runs its uninstall step, which drops its data: run \
                 `wasmig uninstall {module} --yes` to confirm"
            );
        }
        let mut settings = self.lock.settings();
        settings.policy_only = self.policy_only;
        let host = target.open(settings).await?;
        host.uninstall(module).await?;
        writeln!(
            std::io::stdout(),
            "{module}: uninstalled (its history is kept; `wasmig activate {module}` installs it \
             again)"
        )?;
        Ok(ExitCode::SUCCESS)
    }
}
