//! Running one module's plan: every component in its own transaction with its ledger rows.

use std::time::SystemTime;

use wasmig_db::Database;
use wasmig_manifest::{Artifact, Package};
use wasmig_runtime::{PreparedStep, Runtime, StepContext};
use wasmig_store::{HistoryEntry, INSTALL_STEP, ModuleRecord, ModuleStatus, Outcome, timestamp};

use crate::{Action, Event, Failure, ModulePlan, ModuleReport, Result};

/// One component to run: the install component or a numbered step.
struct Unit<'p> {
    /// `install` or `NNN_slug`.
    name: String,
    /// The step number recorded in the ledger ([`INSTALL_STEP`] for install).
    number: u32,
    slug: &'p str,
    artifact: &'p Artifact,
}

/// The upgrade of one module, as planned.
pub(crate) struct Upgrade<'a> {
    pub db: &'a Database,
    pub runtime: &'a Runtime,
    pub package: &'a Package,
    pub record: Option<ModuleRecord>,
    pub plan: &'a ModulePlan,
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
        let units = match &self.plan.action {
            Action::UpToDate | Action::Absent => return Ok(report),
            Action::Refused { reason } => {
                report.failure = Some(self.failure(None, reason.clone()));
                return Ok(report);
            }
            Action::Install => self.install_unit(),
            Action::Apply { first } => self.step_units(*first),
        };

        // Compile and check every component before the first one runs.
        let mut prepared = Vec::with_capacity(units.len());
        for unit in &units {
            match self
                .runtime
                .prepare(&unit.artifact.bytes, unit.artifact.digest)
            {
                Ok(step) => prepared.push(step),
                Err(e) => {
                    report.failure = Some(self.failure(Some(&unit.name), e.to_string()));
                    return Ok(report);
                }
            }
        }

        let mut state = self.record.clone().unwrap_or_else(|| ModuleRecord {
            module: self.plan.module.clone(),
            version: None,
            last_step: 0,
            status: ModuleStatus::Ok,
            installed_at: timestamp(SystemTime::now()),
            updated_at: String::new(),
        });
        let header = &self.package.manifest.version;
        if units.is_empty() {
            // Only the version changes.
            state.version = Some(header.clone());
            state.status = ModuleStatus::Ok;
            state.updated_at = timestamp(SystemTime::now());
            let mut tx = self.db.begin().await?;
            wasmig_store::save_module(&mut tx, &state).await?;
            tx.commit().await?;
            report.to = state.version;
            return Ok(report);
        }

        for (index, (unit, step)) in units.iter().zip(&prepared).enumerate() {
            let is_last = index + 1 == units.len();
            match self
                .run_unit(unit, step, &mut state, is_last, on_event)
                .await?
            {
                Ok(()) => report.applied.push(unit.name.clone()),
                Err(reason) => {
                    report.failure = Some(self.failure(Some(&unit.name), reason));
                    break;
                }
            }
        }
        report.to = state.version;
        Ok(report)
    }

    fn install_unit(&self) -> Vec<Unit<'_>> {
        let artifact = self
            .package
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

    fn step_units(&self, first: u32) -> Vec<Unit<'_>> {
        self.package
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

    /// Runs one component in its own transaction. `Ok(Err(reason))` is a step failure (rolled
    /// back and recorded); `Err` is a failure of the host or the ledger.
    async fn run_unit(
        &self,
        unit: &Unit<'_>,
        step: &PreparedStep,
        state: &mut ModuleRecord,
        is_last: bool,
        on_event: &mut impl FnMut(Event<'_>),
    ) -> Result<Result<(), String>> {
        let module = self.plan.module.as_str();
        on_event(Event::StepStarted {
            module,
            step: &unit.name,
        });
        let context = StepContext {
            module: module.to_owned(),
            step: unit.name.clone(),
            from_version: self.plan.installed_version.as_ref().map(|v| v.to_string()),
            to_version: self.package.manifest.version.to_string(),
        };
        let started_at = SystemTime::now();
        let transaction = self.db.begin().await?;
        let run = self.runtime.run(step, transaction, context).await;
        let finished_at = SystemTime::now();
        let duration = run.report.duration;
        let mut entry = HistoryEntry {
            module: module.to_owned(),
            step: unit.number,
            slug: unit.slug.to_owned(),
            sha256: unit.artifact.sha256(),
            version: self.package.manifest.version.clone(),
            started_at: timestamp(started_at),
            finished_at: timestamp(finished_at),
            duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
            outcome: Outcome::Applied,
            error: None,
        };
        tracing::info!(
            module,
            step = %unit.name,
            statements = run.report.statements,
            fuel = run.report.fuel_used,
            ?duration,
            ok = run.result.is_ok(),
            "step finished"
        );

        match run.result {
            Ok(()) => {
                let mut tx = run.transaction;
                wasmig_store::record(&mut tx, &entry).await?;
                state.last_step = unit.number;
                if unit.number == INSTALL_STEP {
                    // The install component created what every current step leads to.
                    for covered in &self.package.steps {
                        let covered_entry = HistoryEntry {
                            step: covered.number,
                            slug: covered.slug.clone(),
                            sha256: covered.artifact.sha256(),
                            duration_ms: 0,
                            outcome: Outcome::Covered,
                            ..entry.clone()
                        };
                        wasmig_store::record(&mut tx, &covered_entry).await?;
                    }
                    state.last_step = self.package.last_step();
                }
                if is_last {
                    state.version = Some(self.package.manifest.version.clone());
                }
                state.status = ModuleStatus::Ok;
                state.updated_at = entry.finished_at.clone();
                wasmig_store::save_module(&mut tx, state).await?;
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
                run.transaction.rollback().await?;
                let reason = error.to_string();
                on_event(Event::StepFinished {
                    module,
                    step: &unit.name,
                    duration,
                    error: Some(&reason),
                });
                entry.outcome = Outcome::Failed;
                entry.error = Some(reason.clone());
                state.status = ModuleStatus::Failed;
                state.updated_at = entry.finished_at.clone();
                let mut tx = self.db.begin().await?;
                wasmig_store::record(&mut tx, &entry).await?;
                wasmig_store::save_module(&mut tx, state).await?;
                tx.commit().await?;
                Ok(Err(reason))
            }
        }
    }

    fn failure(&self, step: Option<&str>, reason: String) -> Failure {
        Failure {
            module: self.plan.module.clone(),
            step: step.map(str::to_owned),
            reason,
        }
    }
}
