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
        let mut stdout = std::io::stdout().lock();
        if self.json {
            output::json(&mut stdout, &host.status_report().await?)?;
        } else {
            let plans = host.status().await?;
            let drift = host.drift().await?;
            output::status_table(&mut stdout, &plans, &target.modules)?;
            for drifted in &drift {
                if drifted.stale {
                    writeln!(stdout, "drift: {}: {}", drifted.module, drifted.lines()[0])?;
                    continue;
                }
                writeln!(
                    stdout,
                    "drift: {0}: {1} changed outside its steps since {2} (wasmig diff {0})",
                    drifted.module,
                    objects(drifted.differences.len()),
                    drifted.recorded_at
                )?;
            }
            writeln!(stdout, "security: {}", host.enforcement().await?)?;
            if let Some((since, reason)) = host.maintenance_since().await? {
                writeln!(stdout, "under maintenance since {since}: {reason}")?;
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// `1 object`, `3 objects`.
fn objects(count: usize) -> String {
    match count {
        1 => "1 object".to_owned(),
        n => format!("{n} objects"),
    }
}
