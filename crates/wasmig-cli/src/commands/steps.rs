//! `wasmig upgrade` and `wasmig resume`: run steps, printing each as it goes. Ctrl-C asks the
//! upgrade to stop: the running step is rolled back, nothing else starts, the maintenance
//! flag is cleared and the lock released; the exit code is then 130.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use wasmig_engine::{Event, FailureKind, Host, UpgradeReport};

use crate::options::{RunArgs, SafetyArgs, Target};
use crate::{hints, output};

// The modules to upgrade.
#[derive(Debug, Args)]
pub struct Upgrade {
    /// Modules to upgrade (default: all).
    #[arg(value_name = "MODULE")]
    names: Vec<String>,
    #[command(flatten)]
    options: StepOptions,
}

// The modules to resume.
#[derive(Debug, Args)]
pub struct Resume {
    /// Modules to resume (default: all).
    #[arg(value_name = "MODULE")]
    names: Vec<String>,
    #[command(flatten)]
    options: StepOptions,
}

// How the steps of `upgrade` and `resume` run.
#[derive(Debug, Args)]
pub struct StepOptions {
    #[command(flatten)]
    limits: RunArgs,
    #[command(flatten)]
    safety: SafetyArgs,
}

impl Upgrade {
    pub async fn execute(self, target: &Target) -> anyhow::Result<ExitCode> {
        self.options.run(target, &self.names, false).await
    }
}

impl Resume {
    pub async fn execute(self, target: &Target) -> anyhow::Result<ExitCode> {
        self.options.run(target, &self.names, true).await
    }
}

impl StepOptions {
    async fn run(
        &self,
        target: &Target,
        names: &[String],
        resume: bool,
    ) -> anyhow::Result<ExitCode> {
        let host = target
            .open(self.limits.settings(Some(&self.safety)))
            .await?;
        let mut stdout = std::io::stdout().lock();
        let mut progress = output::Progress::new(&mut stdout, interactive());
        let on_event = |event: Event<'_>| progress.event(event);
        let report = stop_on_ctrl_c(&host, async {
            if resume {
                host.resume(names, on_event).await
            } else {
                host.upgrade(names, on_event).await
            }
        })
        .await?;
        finish(progress, &report)
    }
}

/// Runs `work`, asking the host to stop when the process receives Ctrl-C (SIGINT).
pub async fn stop_on_ctrl_c<T>(host: &Host, work: impl Future<Output = T>) -> T {
    let stop = host.stop_handle();
    let watcher = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "interrupted: stopping after rolling back the running step (Ctrl-C again quits \
                 at once; `wasmig resume` and `wasmig maintenance --clear` then set things right)"
            );
            stop.stop();
        }
        // A second Ctrl-C quits at once, as if wasmig had not caught the first (a wait for
        // the lock or a rollback can take a while).
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(130);
        }
    });
    let done = work.await;
    watcher.abort();
    done
}

/// True when stdout is a terminal: commands that run steps then draw progress bars.
pub fn interactive() -> bool {
    std::io::IsTerminal::is_terminal(&std::io::stdout())
}

/// Prints the summary of commands that run steps; exit 1 if a module failed, 130 (as a shell
/// reports SIGINT) if the upgrade was stopped.
pub fn finish(
    mut progress: output::Progress<impl Write>,
    report: &UpgradeReport,
) -> anyhow::Result<ExitCode> {
    progress.summary(report)?;
    drop(progress);
    if report.is_success() {
        return Ok(ExitCode::SUCCESS);
    }
    for failure in report.failures() {
        eprintln!("error: {}", hints::failure(failure));
    }
    let stopped = report.failures().any(|f| f.kind == FailureKind::Stopped);
    Ok(if stopped {
        ExitCode::from(130)
    } else {
        ExitCode::FAILURE
    })
}
