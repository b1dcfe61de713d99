//! What the commands print.

use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use wasmig_engine::{Action, Event, ModulePlan, UpgradeReport};
use wasmig_store::HistoryEntry;

/// Writes rows under headers, each column as wide as its widest cell.
fn table(out: &mut impl Write, headers: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let last = row.len().saturating_sub(1);
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if i == last {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  "));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

fn or_dash(value: Option<impl ToString>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// What `status` shows in its PENDING column.
fn pending(plan: &ModulePlan, modules_dir: &Path) -> String {
    let text = match &plan.action {
        Action::Install => "install".to_owned(),
        Action::Apply { .. } if plan.pending.is_empty() => "version only".to_owned(),
        Action::Apply { .. } => {
            let count = plan.pending.len();
            let noun = if count == 1 { "step" } else { "steps" };
            format!("{count} {noun}: {}", plan.pending.join(", "))
        }
        Action::UpToDate => "none".to_owned(),
        Action::Refused { reason } => format!("refused: {reason}"),
        Action::Unfinished { step, status } => format!(
            "unfinished: {}",
            Action::unfinished_reason(&plan.module, step, *status)
        ),
        Action::Absent => format!("not in {}", modules_dir.display()),
    };
    if plan.last_attempt_failed {
        format!(
            "{text} (last attempt failed, see `wasmig history {}`)",
            plan.module
        )
    } else {
        text
    }
}

/// The `status` table.
pub fn status_table(
    out: &mut impl Write,
    plans: &[ModulePlan],
    modules_dir: &Path,
) -> io::Result<()> {
    if plans.is_empty() {
        return writeln!(out, "no modules in {}", modules_dir.display());
    }
    let rows: Vec<Vec<String>> = plans
        .iter()
        .map(|plan| {
            vec![
                plan.module.clone(),
                or_dash(plan.installed_version.as_ref()),
                or_dash(plan.header_version.as_ref()),
                pending(plan, modules_dir),
            ]
        })
        .collect();
    table(out, &["MODULE", "INSTALLED", "HEADER", "PENDING"], &rows)
}

/// The `history` table.
pub fn history_table(out: &mut impl Write, entries: &[HistoryEntry]) -> io::Result<()> {
    if entries.is_empty() {
        return writeln!(out, "no step has run yet");
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.started_at.clone(),
                e.module.clone(),
                e.step_name(),
                e.version.to_string(),
                e.outcome.to_string(),
                format_duration(Duration::from_millis(e.duration_ms)),
                e.sha256.chars().take(12).collect(),
                e.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        out,
        &[
            "STARTED", "MODULE", "STEP", "VERSION", "OUTCOME", "DURATION", "SHA256", "ERROR",
        ],
        &rows,
    )
}

fn format_duration(duration: Duration) -> String {
    if duration < Duration::from_secs(10) {
        format!("{} ms", duration.as_millis())
    } else {
        format!("{:.1} s", duration.as_secs_f64())
    }
}

/// Prints an upgrade as it happens: a line per module, a line per step.
pub struct Progress<W: Write> {
    out: W,
    error: Option<io::Error>,
}

impl<W: Write> Progress<W> {
    pub fn new(out: W) -> Self {
        Progress { out, error: None }
    }

    /// Prints one event; a write error is kept and returned by [`Progress::summary`].
    pub fn event(&mut self, event: Event<'_>) {
        if self.error.is_none()
            && let Err(e) = self.write_event(event)
        {
            self.error = Some(e);
        }
    }

    fn write_event(&mut self, event: Event<'_>) -> io::Result<()> {
        match event {
            Event::Module { plan } => {
                let module = &plan.module;
                let header = or_dash(plan.header_version.as_ref());
                match &plan.action {
                    Action::Install => writeln!(
                        self.out,
                        "{module}: installing {header} with install.wasm (covers {} steps)",
                        plan.package_steps
                    ),
                    Action::Apply { .. } => {
                        let steps = match plan.pending.len() {
                            0 => "version only".to_owned(),
                            1 => "1 step".to_owned(),
                            n => format!("{n} steps"),
                        };
                        match &plan.installed_version {
                            Some(installed) => {
                                writeln!(self.out, "{module}: {installed} -> {header}, {steps}")
                            }
                            None => writeln!(self.out, "{module}: installing {header}, {steps}"),
                        }
                    }
                    Action::UpToDate => writeln!(self.out, "{module}: up to date at {header}"),
                    Action::Refused { reason } => writeln!(self.out, "{module}: refused: {reason}"),
                    Action::Unfinished { step, .. } => {
                        writeln!(self.out, "{module}: unfinished step {step}")
                    }
                    Action::Absent => Ok(()),
                }
            }
            Event::StepStarted { step, .. } => {
                write!(self.out, "  {step} ... ")?;
                self.out.flush()
            }
            Event::StepFinished {
                duration, error, ..
            } => {
                let time = format_duration(duration);
                match error {
                    None => writeln!(self.out, "ok ({time})"),
                    Some(_) => writeln!(self.out, "FAILED ({time})"),
                }
            }
        }
    }

    /// Prints the closing line and reports any write error met on the way.
    pub fn summary(&mut self, report: &UpgradeReport) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let applied: usize = report.modules.iter().map(|m| m.applied.len()).sum();
        let failed = report.failures().count();
        writeln!(
            self.out,
            "{applied} component{} applied, {failed} module{} failed",
            if applied == 1 { "" } else { "s" },
            if failed == 1 { "" } else { "s" },
        )
    }
}
