//! What the commands print.

use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use wasmig_engine::{
    Action, DryRun, Event, HistoryEntry, Kind, ModulePlan, PathsReport, Repaired, UpgradeReport,
    Verification,
};

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
        Action::Refused { .. } | Action::Unfinished { .. } => {
            crate::hints::blocked(plan).unwrap_or_default()
        }
        Action::Absent => format!("not in {}", modules_dir.display()),
        Action::Inactive => format!(
            "inactive (deactivated; `wasmig activate {}` brings it back)",
            plan.module
        ),
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
                one_line(e.error.as_deref().unwrap_or_default(), ERROR_SHOWN),
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

/// Characters of an error `history`'s table shows (`--json` has it whole).
const ERROR_SHOWN: usize = 100;

/// `text` on one line: line breaks and runs of spaces become one space, and past `shown`
/// characters it is cut with an ellipsis.
fn one_line(text: &str, shown: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(shown) {
        Some((end, _)) => format!("{}…", &flat[..end]),
        None => flat,
    }
}

fn format_duration(duration: Duration) -> String {
    if duration < Duration::from_secs(10) {
        format!("{} ms", duration.as_millis())
    } else {
        format!("{:.1} s", duration.as_secs_f64())
    }
}

/// A bar of `steps` steps for `module`, drawn on stdout.
fn progress_bar(module: &str, steps: usize) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(steps as u64), ProgressDrawTarget::stdout());
    let style = ProgressStyle::with_template("  {prefix} [{bar:30}] {pos}/{len} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(module.to_owned());
    bar
}

/// The line that introduces a module in `upgrade` and `plan` (none for an absent module).
fn module_line(plan: &ModulePlan) -> Option<String> {
    let module = &plan.module;
    let header = or_dash(plan.header_version.as_ref());
    Some(match &plan.action {
        Action::Install => format!(
            "{module}: installing {header} with its install step (covers {})",
            steps(usize::try_from(plan.package_steps).unwrap_or(usize::MAX))
        ),
        Action::Apply { .. } => {
            let steps = match plan.pending.len() {
                0 => "version only".to_owned(),
                n => steps(n),
            };
            match &plan.installed_version {
                Some(installed) => format!("{module}: {installed} -> {header}, {steps}"),
                None => format!("{module}: installing {header}, {steps}"),
            }
        }
        Action::UpToDate => format!("{module}: up to date at {header}"),
        Action::Refused { .. } | Action::Unfinished { .. } => {
            format!(
                "{module}: {}",
                crate::hints::blocked(plan).unwrap_or_default()
            )
        }
        Action::Inactive => format!("{module}: inactive, left alone"),
        Action::Absent => return None,
    })
}

/// What `plan` prints: each module, each step it would run and the SQL the step sends.
pub fn dry_run(out: &mut impl Write, dry_run: &DryRun) -> io::Result<()> {
    for module in &dry_run.modules {
        let Some(line) = module_line(&module.plan) else {
            continue;
        };
        writeln!(out, "{line}")?;
        for warning in &module.plan.warnings {
            writeln!(out, "  warning: {warning}")?;
        }
        for step in &module.steps {
            let kind = match step.kind {
                Kind::Component => "component",
                Kind::Sql => "SQL",
            };
            let shown = match (step.ran, step.statements.is_empty()) {
                (true, _) => "",
                (false, false) => ", as written",
                (false, true) => ", SQL not known without running it",
            };
            writeln!(out, "  {} ({kind}{shown})", step.step)?;
            for statement in &step.statements {
                let mut lines = statement.sql.lines();
                writeln!(out, "    {}", lines.next().unwrap_or_default())?;
                for line in lines {
                    writeln!(out, "      {}", line.trim_start())?;
                }
                if !statement.params.is_empty() {
                    let params: Vec<String> = statement
                        .params
                        .iter()
                        .map(|v| shortened(&v.to_string()))
                        .collect();
                    writeln!(out, "      with {}", params.join(", "))?;
                }
                match (&statement.tolerated, statement.tolerant) {
                    (Some(error), _) => writeln!(out, "      allowed to fail; fails: {error}")?,
                    (None, true) => writeln!(out, "      allowed to fail")?,
                    (None, false) => {}
                }
            }
            if let Some(error) = &step.error {
                writeln!(out, "    FAILS: {error}")?;
            }
        }
    }
    for note in &dry_run.notes {
        writeln!(out, "note: {note}")?;
    }
    Ok(())
}

/// Prints an upgrade as it happens: a line per module, a line per step; on a terminal, a
/// progress bar of the module's steps below them.
pub struct Progress<W: Write> {
    out: W,
    error: Option<io::Error>,
    /// The bar of the module being upgraded, when stdout is a terminal.
    bar: Option<ProgressBar>,
    interactive: bool,
}

impl<W: Write> Progress<W> {
    /// Plain lines on `out`; a progress bar too when `interactive` (stdout is a terminal).
    pub fn new(out: W, interactive: bool) -> Self {
        Progress {
            out,
            error: None,
            bar: None,
            interactive,
        }
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
            Event::BackedUp { location } => {
                writeln!(self.out, "backed up to {}", location.display())
            }
            Event::Module { plan } => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
                let Some(line) = module_line(plan) else {
                    return Ok(());
                };
                writeln!(self.out, "{line}")?;
                if self.interactive && !plan.pending.is_empty() {
                    self.bar = Some(progress_bar(&plan.module, plan.pending.len()));
                }
                Ok(())
            }
            Event::StepStarted { step, .. } => match &self.bar {
                Some(bar) => {
                    bar.set_message(step.to_owned());
                    Ok(())
                }
                None => {
                    write!(self.out, "  {step} ... ")?;
                    self.out.flush()
                }
            },
            Event::StepFinished {
                step,
                duration,
                error,
                ..
            } => {
                let time = format_duration(duration);
                let verdict = match error {
                    None => format!("ok ({time})"),
                    Some(_) => format!("FAILED ({time})"),
                };
                match &self.bar {
                    Some(bar) => {
                        bar.inc(1);
                        bar.suspend(|| writeln!(self.out, "  {step} ... {verdict}"))
                    }
                    None => writeln!(self.out, "{verdict}"),
                }
            }
            _ => Ok(()),
        }
    }

    /// Prints the closing line and reports any write error met on the way.
    pub fn summary(&mut self, report: &UpgradeReport) -> io::Result<()> {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let applied: usize = report.modules.iter().map(|m| m.applied.len()).sum();
        let failed = report.failures().count();
        writeln!(
            self.out,
            "{applied} step{} applied, {failed} module{} failed",
            if applied == 1 { "" } else { "s" },
            if failed == 1 { "" } else { "s" },
        )
    }
}

/// What `verify` prints for one package.
pub fn verification(out: &mut impl Write, result: &Verification) -> io::Result<()> {
    let verdict = if result.passed() { "ok" } else { "FAILED" };
    let name = match (&result.module, &result.version) {
        (Some(module), Some(version)) => format!("{module} {version}"),
        _ => result.path.display().to_string(),
    };
    writeln!(out, "{name} ({}): {verdict}", result.path.display())?;
    for check in &result.checks {
        let mark = if check.passed { "ok  " } else { "FAIL" };
        writeln!(out, "  {mark} {}: {}", check.subject, check.detail)?;
    }
    Ok(())
}

/// What `verify --paths` found for one package: each path, and what differs.
pub fn paths(out: &mut impl Write, report: &PathsReport) -> io::Result<()> {
    let verdict = if report.passed() {
        "every path ends with the same schema"
    } else {
        "FAILED"
    };
    writeln!(out, "{} {}: {verdict}", report.module, report.version)?;
    for (check, role) in std::iter::once((&report.reference, " (reference)"))
        .chain(report.paths.iter().map(|p| (p, "")))
    {
        match (&check.failure, check.differences.len()) {
            (Some(failure), _) => writeln!(out, "  FAIL {}{role}: {failure}", check.path)?,
            (None, 0) => writeln!(out, "  ok   {}{role}", check.path)?,
            (None, n) => {
                writeln!(out, "  FAIL {}: {n} objects differ", check.path)?;
                for difference in &check.differences {
                    for line in difference.lines() {
                        writeln!(out, "       {line}")?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// A parameter as `plan` shows it: long values cut to their first characters.
fn shortened(literal: &str) -> String {
    const SHOWN: usize = 60;
    match literal.char_indices().nth(SHOWN) {
        Some((end, _)) => format!(
            "{}… ({} characters)",
            &literal[..end],
            literal.chars().count()
        ),
        None => literal.to_owned(),
    }
}

/// What `repair` prints once it settled a step or accepted changed files.
pub fn repaired(module: &str, repaired: &Repaired) -> String {
    match repaired {
        Repaired::Settled { step, applied } => {
            let verdict = if *applied { "applied" } else { "failed" };
            format!("{module}: {step} marked {verdict} by `wasmig repair`")
        }
        Repaired::Accepted { steps } => {
            format!(
                "{module}: accepted the changed files of {}",
                steps.join(", ")
            )
        }
        other => format!("{module}: {other:?}"),
    }
}

/// Prints `value` as pretty JSON, with a final newline.
pub fn json(out: &mut impl Write, value: &impl serde::Serialize) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

/// `1 step`, `3 steps`.
pub fn steps(count: usize) -> String {
    match count {
        1 => "1 step".to_owned(),
        n => format!("{n} steps"),
    }
}
