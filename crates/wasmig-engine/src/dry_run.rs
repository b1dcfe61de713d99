//! `plan`: what an upgrade would do, down to the SQL each step would send, without changing
//! the database.
//!
//! Where DDL is transactional (SQLite, PostgreSQL) every pending step runs, through the same
//! policy and sandbox as an upgrade, in one transaction that is rolled back at the end; the
//! statements the steps send are recorded on the way. Each step runs inside a savepoint, so a
//! failing step is undone and reported while the others are still previewed. MySQL commits DDL
//! implicitly: there only SQL steps can be shown, as written.

use crate::outcome::with_causes;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use wasmig_db::{Authorizer, Denial, Dialect, Transaction, Value};
use wasmig_guard::Policy;
use wasmig_manifest::{Kind, Package};
use wasmig_runtime::{
    BoxFuture, Gate, GuestStatement, Hooks, HostFailure, NoJournal, Route, StepContext,
};

use crate::gate::GuardGate;
use crate::run::{Unit, install_unit, prepare, step_units};
use crate::{Action, Host, ModulePlan, Result, deps, plan_module, plan_unreadable};

/// What `plan` found, module by module.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DryRun {
    /// True when the steps ran (and were rolled back), so the SQL shown is what they send.
    pub exact: bool,
    /// What the operator should know about how exact the preview is.
    pub notes: Vec<String>,
    /// One entry per module considered, in upgrade order.
    pub modules: Vec<ModuleDryRun>,
}

/// One module's part of a dry run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModuleDryRun {
    /// What an upgrade would do with the module.
    pub plan: ModulePlan,
    /// The steps it would run, with their SQL.
    pub steps: Vec<StepPreview>,
}

/// One step of a dry run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepPreview {
    /// `install` or `NNN_slug`.
    pub step: String,
    /// Component or SQL.
    pub kind: Kind,
    /// True when the step ran in the rolled-back transaction; false when its SQL is shown as
    /// written (a SQL step on MySQL) or not at all (a component on MySQL).
    pub ran: bool,
    /// The statements it sent (or would send), in order.
    pub statements: Vec<StatementPreview>,
    /// Why it failed (or would fail), when it did.
    pub error: Option<String>,
}

/// One statement of a step in a dry run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatementPreview {
    /// Its text.
    pub sql: String,
    /// The values bound to its placeholders (none for a SQL step).
    pub params: Vec<Value>,
    /// True when the step allows it to fail (`execute-tolerant`, `-- wasmig:tolerant`).
    pub tolerant: bool,
    /// The error a tolerant statement got in the dry run; the step went on.
    pub tolerated: Option<String>,
}

impl StatementPreview {
    fn new(sql: &str, params: &[Value], tolerant: bool) -> Self {
        StatementPreview {
            sql: sql.to_owned(),
            params: params.to_vec(),
            tolerant,
            tolerated: None,
        }
    }
}

impl StepPreview {
    /// A step not run (yet), with no statement known.
    fn new(unit: &Unit<'_>) -> Self {
        StepPreview {
            step: unit.name.clone(),
            kind: unit.artifact.kind,
            ran: false,
            statements: Vec::new(),
            error: None,
        }
    }
}

impl Host {
    /// Previews an upgrade of the named modules (all when `modules` is empty): which steps
    /// would run and the SQL they would send. Changes nothing; holds the upgrade lock while
    /// it runs so that no upgrade interleaves.
    pub async fn plan(&self, modules: &[String]) -> Result<DryRun> {
        let selected = self.select(modules)?;
        let packages = &selected.packages;
        self.locked(async {
            let mut ledger = self.ledger().await?;
            let mut versions = deps::Versions::from_ledger(&ledger);
            let dialect = self.db.dialect();
            let exact = dialect.has_transactional_ddl();
            let mut transaction = None;
            let mut sequences = Vec::new();
            // Read before the preview's transaction takes the one connection of a SQLite file.
            let drifted = self.drift().await?;
            if exact {
                let mut tx = self.db.begin().await?;
                tx.previewing();
                sequences = sequence_positions(&mut tx).await?;
                wasmig_store::create_schema(&mut tx).await?;
                transaction = Some(tx);
            }
            let mut dry_run = DryRun {
                exact,
                notes: notes(dialect),
                modules: Vec::new(),
            };
            let refusal = self.unenforced().await?;
            for package in packages {
                let recorded = ledger.remove(&package.manifest.name).unwrap_or_default();
                let mut plan = plan_module(package, &recorded, self.options);
                versions.block_unmet(&mut plan, package);
                crate::security::refuse_unenforced(&mut plan, refusal.as_ref());
                if !self.accept_drift {
                    let drift = drifted.iter().find(|d| d.module == plan.module);
                    crate::drift::refuse_drifted(&mut plan, drift);
                }
                let units = match plan.action {
                    Action::Install => install_unit(package),
                    Action::Apply { first } => step_units(package, first),
                    _ => Vec::new(),
                };
                let steps = self
                    .preview_units(package, &plan, &units, &mut transaction)
                    .await?;
                let failed = steps.iter().any(|s| s.error.is_some());
                let reached = match plan.action {
                    Action::UpToDate => plan.header_version.clone(),
                    Action::Install | Action::Apply { .. } if !failed => {
                        plan.header_version.clone()
                    }
                    _ => plan.installed_version.clone(),
                };
                versions.set(&plan.module, reached);
                dry_run.modules.push(ModuleDryRun { plan, steps });
            }
            dry_run
                .modules
                .extend(selected.unreadable.iter().map(|unreadable| {
                    let recorded = ledger.remove(&unreadable.name).unwrap_or_default();
                    ModuleDryRun {
                        plan: plan_unreadable(unreadable, &recorded),
                        steps: Vec::new(),
                    }
                }));
            if let Some(tx) = transaction {
                tx.rollback().await?;
            }
            // A rollback does not take back what sequences handed out (PostgreSQL): put them back.
            for restore in sequences {
                self.db.execute(&restore, &[]).await?;
            }
            Ok(dry_run)
        })
        .await
    }

    /// Previews the units of one module: run in the dry run's transaction where they can be,
    /// else checked against the policy as written. Once a step cannot run here, the ones after
    /// it cannot either.
    async fn preview_units(
        &self,
        package: &Package,
        plan: &ModulePlan,
        units: &[Unit<'_>],
        transaction: &mut Option<Transaction>,
    ) -> Result<Vec<StepPreview>> {
        let dialect = self.db.dialect();
        let mut steps: Vec<StepPreview> = Vec::new();
        let mut statically: Option<Policy> = None;
        for unit in units {
            let failed = steps.iter().any(|s| s.error.is_some());
            if statically.is_none() && (transaction.is_none() || runs_alone(unit, package)) {
                statically = Some(self.policy_now(transaction.as_mut(), package).await?);
            }
            let preview = match (transaction.take(), statically.as_mut()) {
                (Some(tx), None) if !failed => {
                    let (tx, preview) = self.preview(tx, package, plan, unit).await?;
                    *transaction = Some(tx);
                    preview
                }
                (tx, policy) => {
                    *transaction = tx;
                    as_written(unit, dialect, failed, policy)
                }
            };
            steps.push(preview);
        }
        Ok(steps)
    }

    /// The module's policy as the database is now: read in the dry run's transaction, or in
    /// one of its own (MySQL) that it rolls back.
    async fn policy_now(&self, tx: Option<&mut Transaction>, package: &Package) -> Result<Policy> {
        let manifest = &package.manifest;
        match tx {
            Some(tx) => Ok(GuardGate::policy_now(tx, &self.db, manifest, &self.policy).await?),
            None => {
                let mut tx = self.db.begin().await?;
                let policy = GuardGate::policy_now(&mut tx, &self.db, manifest, &self.policy).await;
                tx.rollback().await?;
                Ok(policy?)
            }
        }
    }

    /// Runs one step inside a savepoint of the dry run's transaction, recording its SQL.
    async fn preview(
        &self,
        mut tx: Transaction,
        package: &Package,
        plan: &ModulePlan,
        unit: &Unit<'_>,
    ) -> Result<(Transaction, StepPreview)> {
        let mut preview = StepPreview::new(unit);
        let prepared = match prepare(&self.runtime, tx.dialect(), unit.artifact).await {
            Ok(prepared) => prepared,
            Err(reason) => {
                preview.error = Some(reason);
                return Ok((tx, preview));
            }
        };
        tx.savepoint("wasmig_plan").await?;
        let manifest = &package.manifest;
        let gate = GuardGate::open(&mut tx, &self.db, manifest, &self.policy).await?;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let hooks = Hooks {
            journal: Box::new(NoJournal),
            gate: Box::new(Recording {
                inner: Box::new(gate),
                seen: Arc::clone(&seen),
            }),
            each_statement_commits: false,
        };
        let context = StepContext {
            module: manifest.name.clone(),
            step: unit.name.clone(),
            from_version: plan.installed_version.as_ref().map(ToString::to_string),
            to_version: manifest.version.to_string(),
        };
        let run = prepared.run(&self.runtime, tx, context, hooks).await;
        let mut tx = run.transaction;
        preview.ran = true;
        preview.error = run.result.err().map(|e| with_causes(&e));
        preview.statements = std::mem::take(&mut *seen.lock().expect("the recording lock"));
        for tolerated in run.report.tolerated {
            if let Some(statement) = preview.statements.get_mut(tolerated.position as usize) {
                statement.tolerated = Some(tolerated.error);
            }
        }
        tx.end_savepoint("wasmig_plan", preview.error.is_some())
            .await?;
        Ok((tx, preview))
    }
}

/// PostgreSQL: for every sequence of the schema, the statement that puts it back where it is
/// now (its last value, or its start when it never handed one out). Nothing elsewhere: SQLite's
/// counters roll back with the transaction, and a plan on MySQL runs no step.
async fn sequence_positions(tx: &mut Transaction) -> Result<Vec<String>> {
    if tx.dialect() != Dialect::Postgres {
        return Ok(Vec::new());
    }
    let rows = tx
        .query(
            "SELECT format('SELECT pg_catalog.setval(%L, %s, %s)', \
             quote_ident(schemaname) || '.' || quote_ident(sequencename), \
             COALESCE(last_value, start_value), \
             CASE WHEN last_value IS NULL THEN 'false' ELSE 'true' END) \
             FROM pg_catalog.pg_sequences WHERE schemaname = current_schema()",
            &[],
        )
        .await?;
    Ok(rows
        .rows
        .iter()
        .filter_map(|row| row[0].as_text().map(str::to_owned))
        .collect())
}

/// True for a step that commits statement by statement (it declared itself
/// non-transactional): it cannot run in the dry run's transaction.
fn runs_alone(unit: &Unit<'_>, package: &Package) -> bool {
    match unit.artifact.kind {
        Kind::Sql => {
            std::str::from_utf8(&unit.artifact.bytes).is_ok_and(wasmig_guard::is_non_transactional)
        }
        Kind::Component => package.manifest.no_transaction.contains(&unit.name),
    }
}

/// A step that cannot run in the dry run: a SQL step is shown as written and checked
/// against the module's policy (`policy`, updated with what it creates); a component is not
/// shown, and what it creates is unknown, so after it a name nobody holds counts as the
/// module's.
fn as_written(
    unit: &Unit<'_>,
    dialect: Dialect,
    after_failure: bool,
    policy: Option<&mut Policy>,
) -> StepPreview {
    let mut preview = StepPreview::new(unit);
    if after_failure {
        preview.error = Some("not reached: an earlier step of the module fails".into());
        return preview;
    }
    let Some(policy) = policy else {
        return preview;
    };
    if unit.artifact.kind == Kind::Component {
        policy.assume_unknown_names_are_own();
        return preview;
    }
    let statements = match std::str::from_utf8(&unit.artifact.bytes)
        .map_err(|e| e.to_string())
        .and_then(|text| wasmig_guard::split_script(dialect, text))
    {
        Ok(statements) => statements,
        Err(reason) => {
            preview.error = Some(reason);
            return preview;
        }
    };
    for statement in &statements {
        preview.statements.push(StatementPreview::new(
            &statement.sql,
            &[],
            statement.tolerant,
        ));
        match policy.check(&statement.sql) {
            Ok(effects) => policy.apply(&effects),
            Err(denial) => {
                preview.error = Some(format!("line {}: denied: {denial}", statement.line));
                break;
            }
        }
    }
    preview
}

fn notes(dialect: Dialect) -> Vec<String> {
    let mut notes = Vec::new();
    if dialect.has_transactional_ddl() {
        notes.push(
            "every pending step ran in one transaction that was rolled back: the database is \
             unchanged; a step that reads data sent what it sends on the data as it is now, \
             which an upgrade later may find changed"
                .to_owned(),
        );
    } else {
        notes.push(
            "MySQL/MariaDB commit DDL implicitly, so no step was run: SQL steps are listed as \
             written and checked against the policy as the database is now (after a component, \
             whose effects are not known until it runs, a name nobody holds counts as the \
             module's)"
                .to_owned(),
        );
    }
    notes
}

/// The module's gate, recording every statement it is asked about.
struct Recording {
    inner: Box<dyn Gate>,
    seen: Arc<Mutex<Vec<StatementPreview>>>,
}

impl Gate for Recording {
    fn check(&mut self, statement: &GuestStatement<'_>) -> std::result::Result<Route, Denial> {
        self.seen
            .lock()
            .expect("the recording lock")
            .push(StatementPreview::new(
                statement.sql,
                statement.params,
                statement.tolerant,
            ));
        self.inner.check(statement)
    }

    fn touched(&self) -> Vec<String> {
        self.inner.touched()
    }

    fn reads_only(&self, sql: &str) -> bool {
        self.inner.reads_only(sql)
    }

    fn claim<'a>(
        &'a mut self,
        transaction: &'a mut Transaction,
    ) -> BoxFuture<'a, std::result::Result<(), HostFailure>> {
        self.inner.claim(transaction)
    }

    fn ran<'a>(
        &'a mut self,
        transaction: &'a mut Transaction,
    ) -> Option<BoxFuture<'a, std::result::Result<(), HostFailure>>> {
        self.inner.ran(transaction)
    }

    fn authorizer(&self) -> Option<Arc<dyn Authorizer>> {
        self.inner.authorizer()
    }
}
