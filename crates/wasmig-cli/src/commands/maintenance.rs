//! `wasmig maintenance`.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use wasmig_engine::Settings;

use crate::options::Target;

// Show, set or clear the maintenance flag.
#[derive(Debug, Args)]
pub struct Maintenance {
    /// Sets the flag, with a reason shown to whoever reads it.
    #[arg(long, value_name = "REASON", conflicts_with = "clear")]
    set: Option<String>,
    /// Clears the flag (e.g. after an upgrade was killed while it held it).
    #[arg(long)]
    clear: bool,
}

impl Maintenance {
    pub async fn execute(self, target: &Target) -> anyhow::Result<ExitCode> {
        let host = target.open(Settings::default()).await?;
        if self.clear || self.set.is_some() {
            host.set_maintenance_flag(self.set.as_deref()).await?;
        }
        let mut stdout = std::io::stdout().lock();
        match host.maintenance_since().await? {
            Some((since, reason)) => writeln!(stdout, "under maintenance since {since}: {reason}")?,
            None => writeln!(stdout, "not under maintenance")?,
        }
        Ok(ExitCode::SUCCESS)
    }
}
