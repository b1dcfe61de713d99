//! `wasmig status`.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;
use wasmig_engine::{Enforcement, ModulePlan, Settings};

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
        let drift = host.drift().await?;
        let mut stdout = std::io::stdout().lock();
        if self.json {
            let security = host.enforcement().await?;
            let report = StatusJson {
                modules: &plans,
                drift: drift
                    .iter()
                    .map(|d| (d.module.clone(), d.lines()))
                    .collect(),
                database_enforced: security.is_database_enforced(),
                security,
                maintenance: host
                    .maintenance_since()
                    .await?
                    .map(|(since, reason)| Maintenance { since, reason }),
            };
            output::json(&mut stdout, &report)?;
        } else {
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

/// `status --json`: the modules, who enforces their boundary, and the maintenance flag.
#[derive(Serialize)]
struct StatusJson<'a> {
    modules: &'a [ModulePlan],
    /// Modules whose objects changed outside their steps: what differs, line by line.
    drift: std::collections::BTreeMap<String, Vec<String>>,
    security: Enforcement,
    database_enforced: bool,
    maintenance: Option<Maintenance>,
}

/// The maintenance flag, when it is up.
#[derive(Serialize)]
struct Maintenance {
    since: String,
    reason: String,
}

/// `1 object`, `3 objects`.
fn objects(count: usize) -> String {
    match count {
        1 => "1 object".to_owned(),
        n => format!("{n} objects"),
    }
}
