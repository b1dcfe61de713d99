//! Running one module's plan: every component in its own transaction with its ledger rows.
//!
//! On SQLite and PostgreSQL a step and its ledger rows commit or vanish together. On MySQL,
//! where DDL commits implicitly, a step is recorded `running` before it starts, every statement
//! that committed is journaled as it commits, and a step that stops half-way leaves the module
//! unfinished until `resume` replays it (skipping what the journal says committed) or `repair`
//! settles it by hand.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use wasmig_db::{Database, Dialect, Transaction};
use wasmig_manifest::{Artifact, Kind, Manifest, Package};
use wasmig_runtime::{
    Admission, BoxFuture, Hooks, Journal, NoJournal, PreparedStep, Runtime, ScriptStatement,
    Statement, StepContext, StepRun,
};
use wasmig_store::{
    EntryKind, HistoryEntry, INSTALL_STEP, JournalEntry, Ledger, ModuleRecord, ModuleStatus,
    Outcome, timestamp,
};

use crate::gate::{GuardGate, PolicySettings};
use crate::outcome::StepError;
use crate::{Action, Event, Failure, FailureKind, ModulePlan, ModuleReport, Result};

/// One component to run: the install component or a numbered step.
pub(crate) struct Unit<'p> {
    /// `install` or `NNN_slug`.
    pub name: String,
    /// The step number recorded in the ledger ([`INSTALL_STEP`] for install).
    pub number: u32,
    pub slug: &'p str,
    pub artifact: &'p Artifact,
}

/// The install component as a unit.
pub(crate) fn install_unit(package: &Package) -> Vec<Unit<'_>> {
    let artifact = package
        .install
        .as_ref()
        .expect("an Install plan implies an install component");
    vec![Unit {
        name: "install".into(),
        number: INSTALL_STEP,
        slug: "install",
        artifact,
    }]
}

/// The numbered steps from `first` on, as units.
pub(crate) fn step_units(package: &Package, first: u32) -> Vec<Unit<'_>> {
    package
        .steps
        .iter()
        .filter(|s| s.number >= first)
        .map(|s| Unit {
            name: s.name(),
            number: s.number,
            slug: &s.slug,
            artifact: &s.artifact,
        })
        .collect()
}

/// Why a module or a step did not start.
pub(crate) const STOPPED_BEFORE: &str = "not started: the upgrade was asked to stop";

/// The upgrade of one module, as planned.
pub(crate) struct Upgrade<'a> {
    pub db: &'a Database,
    pub runtime: &'a Runtime,
    pub package: &'a Package,
    pub record: Option<ModuleRecord>,
    pub plan: &'a ModulePlan,
    /// True to replay an unfinished step and go on; false to refuse one.
    pub resume: bool,
    /// What the operator decided about every module's policy.
    pub policy: &'a PolicySettings,
    /// How long to wait for a statement an earlier upgrader left running on the server.
    pub lock_wait: Duration,
}

impl Upgrade<'_> {
    pub async fn run(self, on_event: &mut impl FnMut(Event<'_>)) -> Result<ModuleReport> {
        let mut report = ModuleReport {
            module: self.plan.module.clone(),
            from: self.plan.installed_version.clone(),
            to: self.plan.installed_version.clone(),
            applied: Vec::new(),
            failure: None,
        };
        let (units, replay) = match &self.plan.action {
            Action::UpToDate | Action::Absent | Action::Inactive => return Ok(report),
            Action::Refused { refusal } => {
                report.failure = Some(Failure::refused(&self.plan.module, refusal.clone()));
                return Ok(report);
            }
            Action::Unfinished { step, status } if !self.resume => {
                let reason = Action::unfinished_reason(step, *status);
                let error = StepError::new(FailureKind::Unfinished, reason);
                report.failure = Some(self.failure(None, error, true));
                return Ok(report);
            }
            Action::Unfinished { step, .. } => match self.unfinished_units(step).await? {
                Ok(found) => found,
                Err(error) => {
                    report.failure = Some(self.failure(Some(step), error, true));
                    return Ok(report);
                }
            },
            Action::Install => (install_unit(self.package), Vec::new()),
            Action::Apply { first } => (step_units(self.package, *first), Vec::new()),
        };

        let prepared = match self.prepare_all(&units).await {
            Ok(prepared) => prepared,
            Err(failure) => {
                report.failure = Some(failure);
                return Ok(report);
            }
        };

        let mut state = self.record.clone().unwrap_or_else(|| ModuleRecord {
            module: self.plan.module.clone(),
            version: None,
            last_step: 0,
            status: ModuleStatus::Ok,
            installed_at: timestamp(SystemTime::now()),
            updated_at: String::new(),
        });
        if units.is_empty() {
            // Only the version changes.
            self.record_version(&mut state).await?;
            report.to = state.version;
            return Ok(report);
        }

        let mut replay = Some(replay);
        for (index, (unit, step)) in units.iter().zip(&prepared).enumerate() {
            if self.runtime.stop_handle().is_stopped() {
                let error = StepError::new(FailureKind::Stopped, STOPPED_BEFORE);
                report.failure = Some(self.failure(Some(&unit.name), error, false));
                break;
            }
            let is_last = index + 1 == units.len();
            let replay = replay.take().unwrap_or_default();
            match self
                .run_unit(unit, step, &mut state, is_last, replay, on_event)
                .await?
            {
                Ok(()) => report.applied.push(unit.name.clone()),
                Err((error, unfinished)) => {
                    report.failure = Some(self.failure(Some(&unit.name), error, unfinished));
                    break;
                }
            }
        }
        report.to = state.version;
        Ok(report)
    }

    /// Compiles and checks every component and splits every script before the first one
    /// runs (identical files are prepared once, components compiled side by side); the
    /// failure of the first that cannot run. With a component cache, the first components are
    /// kept until the module's last step, up to [`HELD_CODE`] of compiled image; the others
    /// are loaded from the cache again just before they run.
    async fn prepare_all(&self, units: &[Unit<'_>]) -> Result<Vec<Prepared>, Failure> {
        use futures_util::StreamExt as _;
        let mut distinct: Vec<&Unit<'_>> = Vec::new();
        for unit in units {
            if !distinct
                .iter()
                .any(|u| u.artifact.digest == unit.artifact.digest)
            {
                distinct.push(unit);
            }
        }
        let parallel = std::thread::available_parallelism().map_or(2, usize::from);
        let dialect = self.db.dialect();
        let results: Vec<_> = futures_util::stream::iter(distinct)
            .map(|unit| async move {
                let prepared = prepare(self.runtime, dialect, unit.artifact).await;
                (unit, prepared)
            })
            .buffered(parallel)
            .collect()
            .await;
        let mut compiled: HashMap<[u8; 32], Prepared> = HashMap::new();
        let mut held = 0;
        for (unit, result) in results {
            let prepared = result.map_err(|reason| {
                let error = StepError::new(FailureKind::Invalid, reason);
                self.failure(Some(&unit.name), error, false)
            })?;
            let prepared = match prepared {
                Prepared::Component(step) if self.runtime.has_cache() => {
                    held += step.code_bytes();
                    if held <= HELD_CODE {
                        Prepared::Component(step)
                    } else {
                        Prepared::Cached {
                            bytes: Arc::from(unit.artifact.bytes.as_slice()),
                            seed: step.seed(),
                        }
                    }
                }
                other => other,
            };
            compiled.insert(unit.artifact.digest, prepared);
        }
        Ok(units
            .iter()
            .map(|unit| compiled[&unit.artifact.digest].clone())
            .collect())
    }

    /// Brings the stored version to the package's when no step is left to run.
    async fn record_version(&self, state: &mut ModuleRecord) -> Result<()> {
        state.version = Some(self.package.manifest.version.clone());
        state.status = ModuleStatus::Ok;
        state.updated_at = timestamp(SystemTime::now());
        let mut tx = self.db.begin().await?;
        Ledger::new(&mut tx).save_module(state).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The units a resume runs (the unfinished one, then the rest) and the unfinished one's
    /// journal; `Ok(Err(reason))` when it cannot be resumed safely.
    async fn unfinished_units(
        &self,
        step: &str,
    ) -> Result<Result<(Vec<Unit<'_>>, Vec<JournalEntry>), StepError>> {
        let units = if step == "install" {
            install_unit(self.package)
        } else {
            let first = self.plan.last_step + 1;
            step_units(self.package, first)
        };
        let not_started = |reason: String| Ok(Err(StepError::new(FailureKind::NotStarted, reason)));
        let Some(unit) = units.first() else {
            return not_started("the package no longer has this step".into());
        };
        let history = wasmig_store::history(self.db, Some(&self.plan.module)).await?;
        let Some(last) = history.iter().rev().find(|e| e.step == unit.number) else {
            return not_started("the ledger has no record of this step".into());
        };
        if last.sha256 != unit.artifact.sha256() {
            return not_started(format!(
                "the component changed since the step was left unfinished (sha256 {} then, {} \
                 now): replaying it could run different statements",
                short(&last.sha256),
                short(&unit.artifact.sha256())
            ));
        }
        if last.outcome == Outcome::Running {
            // The process that ran it is gone (we hold the upgrade lock).
            let mut tx = self.db.begin().await?;
            let now = timestamp(SystemTime::now());
            Ledger::new(&mut tx).mark_interrupted(last, &now).await?;
            tx.commit().await?;
        }
        let journal = wasmig_store::journal(self.db, &self.plan.module, unit.number).await?;
        Ok(Ok((units, journal)))
    }

    /// Runs one step in its own transaction (or, journaled, in pieces). `Ok(Err((error,
    /// unfinished)))` is a step failure (recorded; `unfinished` when statements of it had
    /// committed); `Err` is a failure of the host or the ledger.
    async fn run_unit(
        &self,
        unit: &Unit<'_>,
        step: &Prepared,
        state: &mut ModuleRecord,
        is_last: bool,
        replay: Vec<JournalEntry>,
        on_event: &mut impl FnMut(Event<'_>),
    ) -> Result<Result<(), (StepError, bool)>> {
        let module = self.plan.module.as_str();
        let each_statement_commits = step.is_non_transactional(unit, &self.package.manifest);
        let journaled = !self.db.dialect().has_transactional_ddl() || each_statement_commits;
        on_event(Event::StepStarted {
            module,
            step: &unit.name,
        });
        let mut entry = self.history_entry(unit);
        let resumed = !replay.is_empty();
        let journal: Box<dyn Journal> = if journaled {
            self.record_running(&entry, state).await?;
            Box::new(LedgerJournal {
                module: module.to_owned(),
                step: unit.number,
                replay: replay.clone(),
            })
        } else {
            Box::new(NoJournal)
        };
        let run = match self
            .execute(unit, step, journal, each_statement_commits)
            .await?
        {
            Ok(run) => run,
            Err(error) => {
                let failed = Failed {
                    error,
                    duration: Duration::ZERO,
                    journaled,
                    resumed,
                };
                return self
                    .record_failure(unit, None, failed, entry, state, on_event)
                    .await;
            }
        };
        let duration = run.report.duration;
        finished(&mut entry, &run);
        let result = replay_complete(run.result, run.report.statements, &replay);
        match result {
            Ok(()) => {
                let tolerated = &run.report.tolerated;
                if !tolerated.is_empty() {
                    let shown: Vec<String> = tolerated.iter().map(ToString::to_string).collect();
                    entry.error = Some(shown.join("; "));
                }
                let mut tx = run.transaction;
                self.record_applied(&mut tx, unit, journaled, entry.clone(), state, is_last)
                    .await?;
                tx.commit().await?;
                on_event(Event::StepFinished {
                    module,
                    step: &unit.name,
                    duration,
                    error: None,
                });
                Ok(Ok(()))
            }
            Err(error) => {
                let failed = Failed {
                    error,
                    duration,
                    journaled,
                    resumed,
                };
                self.record_failure(unit, Some(run.transaction), failed, entry, state, on_event)
                    .await
            }
        }
    }

    /// Records a step that commits in pieces as running before it starts, so that a crash
    /// leaves a trace `resume` can act on.
    async fn record_running(&self, entry: &HistoryEntry, state: &mut ModuleRecord) -> Result<()> {
        let mut tx = self.db.begin().await?;
        Ledger::new(&mut tx).begin_step(entry, state).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The history row of a step about to run.
    fn history_entry(&self, unit: &Unit<'_>) -> HistoryEntry {
        let started_at = timestamp(SystemTime::now());
        let kind = match unit.number {
            INSTALL_STEP => EntryKind::Install,
            _ => EntryKind::Step,
        };
        HistoryEntry {
            module: self.plan.module.clone(),
            kind,
            step: unit.number,
            slug: unit.slug.to_owned(),
            sha256: unit.artifact.sha256(),
            version: self.package.manifest.version.clone(),
            finished_at: started_at.clone(),
            started_at,
            duration_ms: 0,
            outcome: Outcome::Running,
            error: None,
        }
    }

    /// Opens the step's transaction, confines it (the gate), holds the step lock where the
    /// step is journaled, and runs the step. `Ok(Err(reason))`: it could not start.
    async fn execute(
        &self,
        unit: &Unit<'_>,
        step: &Prepared,
        journal: Box<dyn Journal>,
        each_statement_commits: bool,
    ) -> Result<Result<StepRun, StepError>> {
        let mut transaction = self.db.begin().await?;
        if journal.is_active() {
            // A statement an earlier upgrader left running on the server finishes first.
            match transaction.hold_step_lock(self.lock_wait).await {
                Err(wasmig_db::Error::Locked { holder }) => {
                    let reason = format!(
                        "{}: waited {} s",
                        holder.unwrap_or_else(|| "another upgrader holds the step lock".into()),
                        self.lock_wait.as_secs()
                    );
                    return Ok(Err(StepError::new(FailureKind::Locked, reason)));
                }
                other => other?,
            }
        }
        let confined = Confined {
            db: self.db,
            runtime: self.runtime,
            policy: self.policy,
            manifest: &self.package.manifest,
        };
        let from = self.plan.installed_version.as_ref();
        let run = confined
            .run(
                transaction,
                &unit.name,
                from,
                step,
                journal,
                each_statement_commits,
            )
            .await?;
        Ok(Ok(run))
    }

    /// Records an applied step in its own transaction (with what an install covers).
    async fn record_applied(
        &self,
        tx: &mut Transaction,
        unit: &Unit<'_>,
        journaled: bool,
        entry: HistoryEntry,
        state: &mut ModuleRecord,
        is_last: bool,
    ) -> Result<()> {
        let mut ledger = Ledger::new(tx);
        ledger.mark_applied(&entry, journaled).await?;
        state.last_step = unit.number;
        if unit.number == INSTALL_STEP {
            // The install component created what every current step leads to.
            for covered in &self.package.steps {
                let covered_entry = HistoryEntry {
                    kind: EntryKind::Step,
                    step: covered.number,
                    slug: covered.slug.clone(),
                    sha256: covered.artifact.sha256(),
                    duration_ms: 0,
                    error: None,
                    ..entry.clone()
                };
                ledger.mark_covered(&covered_entry).await?;
            }
            state.last_step = self.package.last_step();
        }
        if is_last {
            state.version = Some(self.package.manifest.version.clone());
        }
        state.status = ModuleStatus::Ok;
        state.updated_at = entry.finished_at.clone();
        Ok(ledger.save_module(state).await?)
    }

    /// Rolls back what can be, and records a failed step: failed (it runs again next time),
    /// or unfinished when statements of it had committed, or when it was being resumed (so
    /// that `resume` and `repair` still apply).
    async fn record_failure(
        &self,
        unit: &Unit<'_>,
        transaction: Option<Transaction>,
        failed: Failed,
        mut entry: HistoryEntry,
        state: &mut ModuleRecord,
        on_event: &mut impl FnMut(Event<'_>),
    ) -> Result<Result<(), (StepError, bool)>> {
        let module = self.plan.module.as_str();
        if let Some(transaction) = transaction {
            transaction.rollback().await?;
        }
        let Failed {
            mut error,
            duration,
            journaled,
            resumed,
        } = failed;
        // Statements that committed on their own cannot be rolled back.
        let committed = journaled
            && (resumed
                || !wasmig_store::journal(self.db, module, unit.number)
                    .await?
                    .is_empty());
        if committed {
            error.reason.push_str(&format!(
                "; statements of this step had already committed, so the module is \
                 unfinished: {}",
                Action::unfinished_reason(&unit.name, ModuleStatus::Dirty)
            ));
        }
        on_event(Event::StepFinished {
            module,
            step: &unit.name,
            duration,
            error: Some(&error.reason),
        });
        entry.error = Some(error.reason.clone());
        entry.finished_at = timestamp(SystemTime::now());
        state.status = if committed {
            ModuleStatus::Dirty
        } else {
            ModuleStatus::Failed
        };
        state.updated_at = entry.finished_at.clone();
        let mut tx = self.db.begin().await?;
        let mut ledger = Ledger::new(&mut tx);
        ledger.mark_failed(&entry, journaled).await?;
        ledger.save_module(state).await?;
        tx.commit().await?;
        Ok(Err((error, committed)))
    }

    fn failure(&self, step: Option<&str>, error: StepError, unfinished: bool) -> Failure {
        Failure {
            module: self.plan.module.clone(),
            step: step.map(str::to_owned),
            kind: error.kind,
            reason: error.reason,
            unfinished,
        }
    }
}

/// Completes the history row of a step that ran, and logs it.
fn finished(entry: &mut HistoryEntry, run: &StepRun) {
    let duration = run.report.duration;
    entry.finished_at = timestamp(SystemTime::now());
    entry.duration_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    tracing::info!(
        module = %entry.module,
        step = %entry.slug,
        statements = run.report.statements,
        fuel = run.report.fuel_used,
        ?duration,
        ok = run.result.is_ok(),
        "step finished"
    );
}

/// How every step runs, whatever runs it (upgrade, resume, uninstall): in its transaction,
/// under the module's gate (its policy, its role or account, SQLite's authorizer).
pub(crate) struct Confined<'a> {
    pub db: &'a Database,
    pub runtime: &'a Runtime,
    pub policy: &'a PolicySettings,
    pub manifest: &'a Manifest,
}

impl Confined<'_> {
    /// Runs `step` (named `name`, from the stored version `from`) in `transaction`.
    pub async fn run(
        &self,
        mut transaction: Transaction,
        name: &str,
        from: Option<&semver::Version>,
        step: &Prepared,
        journal: Box<dyn Journal>,
        each_statement_commits: bool,
    ) -> Result<StepRun> {
        let gate = GuardGate::open(&mut transaction, self.db, self.manifest, self.policy).await?;
        let hooks = Hooks {
            journal,
            gate: Box::new(gate),
            each_statement_commits,
        };
        let context = StepContext {
            module: self.manifest.name.clone(),
            step: name.to_owned(),
            from_version: from.map(ToString::to_string),
            to_version: self.manifest.version.to_string(),
        };
        Ok(step.run(self.runtime, transaction, context, hooks).await)
    }
}

/// A step's result, failed when it finished before sending every statement its journal
/// says had committed (the replay diverged).
fn replay_complete(
    result: wasmig_runtime::Result<()>,
    statements: u64,
    replay: &[JournalEntry],
) -> Result<(), StepError> {
    let replayed = replay.iter().filter(|e| e.intent.is_none()).count();
    let result = result.map_err(StepError::from);
    if result.is_ok() && (statements as usize) < replayed {
        let reason = format!(
            "the replay diverged from the journal: the step finished after {statements} \
             statements but the journal recorded {replayed} that had committed"
        );
        return Err(StepError::new(FailureKind::Diverged, reason));
    }
    result
}

/// How a step failed, for its record.
struct Failed {
    error: StepError,
    duration: Duration,
    /// The step was journaled (it commits in pieces).
    journaled: bool,
    /// It was being resumed: statements of it committed in an earlier run.
    resumed: bool,
}

/// The compiled image (code and data) of components an upgrade keeps between checking them
/// and running them, when it has a cache to load the others from again (loading one costs about as much as
/// its step's SQL: holding them halves a chain of small components).
const HELD_CODE: usize = 64 << 20;

/// A step file made ready to run.
#[derive(Clone)]
pub(crate) enum Prepared {
    /// A compiled component.
    Component(PreparedStep),
    /// A component compiled into the runtime's cache, loaded from there when it runs.
    Cached {
        /// The component's bytes.
        bytes: Arc<[u8]>,
        /// The seed of the guest's randomness.
        seed: [u8; 32],
    },
    /// The statements of a `.sql` step, and whether it declared itself non-transactional
    /// (`-- wasmig:no-transaction` as its first line).
    Script(Arc<[ScriptStatement]>, bool),
}

impl Prepared {
    /// True when the step declared itself non-transactional: a SQL step with the marker as
    /// its first line, a component listed in its manifest's `no-transaction`.
    pub(crate) fn is_non_transactional(&self, unit: &Unit<'_>, manifest: &Manifest) -> bool {
        match self {
            Prepared::Script(_, marked) => *marked,
            Prepared::Component(_) | Prepared::Cached { .. } => {
                manifest.no_transaction.contains(&unit.name)
            }
        }
    }

    /// Runs the component or the script inside `transaction`.
    pub(crate) async fn run(
        &self,
        runtime: &Runtime,
        transaction: Transaction,
        context: StepContext,
        hooks: Hooks,
    ) -> StepRun {
        match self {
            Prepared::Component(component) => {
                runtime.run(component, transaction, context, hooks).await
            }
            Prepared::Cached { bytes, seed } => match runtime.prepare(bytes, *seed).await {
                Ok(component) => runtime.run(&component, transaction, context, hooks).await,
                Err(error) => StepRun {
                    transaction,
                    report: Default::default(),
                    result: Err(error),
                },
            },
            Prepared::Script(script, _) => {
                runtime
                    .run_script(script, transaction, context, hooks)
                    .await
            }
        }
    }
}

/// Compiles a component or splits a script; the error says why the file cannot run.
pub(crate) async fn prepare(
    runtime: &Runtime,
    dialect: Dialect,
    artifact: &Artifact,
) -> Result<Prepared, String> {
    match artifact.kind {
        Kind::Component => runtime
            .prepare(&artifact.bytes, artifact.digest)
            .await
            .map(Prepared::Component)
            .map_err(|e| e.to_string()),
        Kind::Sql => {
            let text = std::str::from_utf8(&artifact.bytes)
                .map_err(|e| format!("{} is not UTF-8 text: {e}", artifact.file_name()))?;
            let statements = wasmig_guard::split_script(dialect, text)
                .map_err(|e| format!("{}: {e}", artifact.file_name()))?;
            let non_transactional = wasmig_guard::is_non_transactional(text);
            Ok(Prepared::Script(
                statements
                    .into_iter()
                    .map(|s| ScriptStatement {
                        sql: s.sql,
                        line: s.line,
                        tolerant: s.tolerant,
                    })
                    .collect(),
                non_transactional,
            ))
        }
    }
}

fn short(sha256: &str) -> &str {
    &sha256[..sha256.len().min(12)]
}

/// The journal of a step that commits in pieces, kept in the ledger: entries are written in
/// the step's own transaction, and a replay answers the statements that committed in an
/// earlier run (or decides about the one that was in flight).
struct LedgerJournal {
    module: String,
    step: u32,
    replay: Vec<JournalEntry>,
}

impl Journal for LedgerJournal {
    fn is_active(&self) -> bool {
        true
    }

    fn admit(&mut self, statement: &Statement) -> Result<Admission, String> {
        let Some(recorded) = self
            .replay
            .iter()
            .find(|e| e.position == statement.position)
        else {
            return Ok(Admission::Run);
        };
        if recorded.sha256 != statement.sha256 {
            return Err(format!(
                "statement {} was `{}` when it committed, but the step now sends `{}`",
                statement.position + 1,
                recorded.statement,
                statement.sql
            ));
        }
        Ok(match &recorded.intent {
            Some(intent) => Admission::InFlight(intent.clone()),
            None => Admission::Replay {
                rows_affected: recorded.rows_affected,
                rows: recorded.rows.clone(),
            },
        })
    }

    fn write<'a>(
        &'a mut self,
        transaction: &'a mut Transaction,
        statements: &'a [Statement],
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let entries: Vec<JournalEntry> = statements
                .iter()
                .map(|s| JournalEntry {
                    position: s.position,
                    sha256: s.sha256.clone(),
                    statement: s.sql.clone(),
                    rows_affected: s.rows_affected,
                    rows: s.rows.clone(),
                    intent: s.intent.clone(),
                })
                .collect();
            wasmig_store::journal_write(transaction, &self.module, self.step, &entries)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn settle<'a>(
        &'a mut self,
        transaction: &'a mut Transaction,
        position: u32,
        rows_affected: Option<u64>,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            wasmig_store::journal_settle(
                transaction,
                &self.module,
                self.step,
                position,
                rows_affected,
            )
            .await
            .map_err(|e| e.to_string())
        })
    }
}
