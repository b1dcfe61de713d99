//! `wasmig repair`.

use std::io::Write;
use std::process::ExitCode;

use clap::{ArgGroup, Args};
use wasmig_engine::{Action, Host};

use crate::options::{LockArgs, Target};
use crate::output;

// How to settle a module's unfinished step, or accept its changed files.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("repair").required(true).multiple(false)))]
pub struct Repair {
    /// The module.
    #[arg(value_name = "MODULE")]
    module: String,
    /// Record the unfinished step as applied (`016`, `016_add_index`, or `install`).
    #[arg(long, value_name = "STEP", value_parser = parse_step, group = "repair")]
    mark_applied: Option<StepArg>,
    /// Record the unfinished step as failed (`016`, `016_add_index`, or `install`).
    #[arg(long, value_name = "STEP", value_parser = parse_step, group = "repair")]
    mark_failed: Option<StepArg>,
    /// Record the current checksums of applied steps whose files changed, after checking
    /// that the change is harmless (the steps do not run again).
    #[arg(long, group = "repair")]
    accept_changed: bool,
    #[command(flatten)]
    lock: LockArgs,
}

impl Repair {
    pub async fn execute(self, target: &Target) -> anyhow::Result<ExitCode> {
        let host = target.open(self.lock.settings()).await?;
        debug_assert!(
            self.accept_changed || self.mark_applied.is_some() || self.mark_failed.is_some()
        );
        let step = self.mark_applied.as_ref().or(self.mark_failed.as_ref());
        let repair = repair_of(&host, &self.module, step, self.mark_applied.is_some()).await?;
        let repaired = host.repair(&self.module, repair).await?;
        writeln!(
            std::io::stdout(),
            "{}",
            output::repaired(&self.module, &repaired)
        )?;
        Ok(ExitCode::SUCCESS)
    }
}

/// A step as an operator names it: `install`, a number (`16`, `016`) or the full name every
/// message prints (`016_add_deleted_at`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct StepArg {
    number: u32,
    /// The full name, when it was given.
    name: Option<String>,
}

fn parse_step(text: &str) -> Result<StepArg, String> {
    if text == "install" {
        return Ok(StepArg {
            number: 0,
            name: Some(text.to_owned()),
        });
    }
    let (number, name) = match text.split_once('_') {
        Some((number, _)) => (number, Some(text.to_owned())),
        None => (text, None),
    };
    let number = number.parse().map_err(|_| {
        format!(
            "`{text}` is not a step (a number such as 016, a name such as 016_add_index, or \
             `install`)"
        )
    })?;
    Ok(StepArg { number, name })
}

/// The repair asked for, once a step given by name is known to be the unfinished one.
async fn repair_of(
    host: &Host,
    module: &str,
    step: Option<&StepArg>,
    mark_applied: bool,
) -> anyhow::Result<wasmig_engine::Repair> {
    use wasmig_engine::Repair;
    let Some(step) = step else {
        return Ok(Repair::AcceptChanged);
    };
    if let Some(name) = &step.name {
        let plan = host.status().await?;
        let unfinished = plan.iter().find_map(|p| match &p.action {
            Action::Unfinished { step, .. } if p.module == module => Some(step.clone()),
            _ => None,
        });
        if let Some(unfinished) = unfinished.filter(|u| u != name) {
            anyhow::bail!(
                "cannot repair {module}: {name} is not the unfinished step, which is {unfinished}"
            );
        }
    }
    Ok(if mark_applied {
        Repair::MarkApplied(step.number)
    } else {
        Repair::MarkFailed(step.number)
    })
}
