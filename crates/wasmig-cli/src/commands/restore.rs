//! `wasmig restore`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::options::{LockArgs, Target};

// The backup to bring back.
#[derive(Debug, Args)]
pub struct Restore {
    /// The backup `upgrade --backup` printed (a file on SQLite, a directory elsewhere).
    #[arg(value_name = "BACKUP")]
    backup: PathBuf,
    #[command(flatten)]
    lock: LockArgs,
}

impl Restore {
    pub async fn execute(self, target: &Target) -> anyhow::Result<ExitCode> {
        let host = target.open(self.lock.settings()).await?;
        let modules = host.restore(&self.backup).await?;
        writeln!(
            std::io::stdout(),
            "restored {} from {}",
            modules.join(", "),
            self.backup.display()
        )?;
        Ok(ExitCode::SUCCESS)
    }
}
