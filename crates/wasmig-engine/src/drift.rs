//! Drift: a module's schema changed outside its steps since its last upgrade.
//!
//! After an upgrade applied steps of a module, the ledger keeps the module's part of the
//! schema (its objects as the database's own catalog describes them, see `wasmig-schema`)
//! and its fingerprint. A module's part is every object whose name, or whose table's name,
//! the module holds. Comparing that record with the live catalog tells whether someone
//! changed the module's objects by hand since, and what.

use std::collections::{BTreeMap, BTreeSet};

use wasmig_schema::{Difference, Digester, Schema};
use wasmig_store::RecordedSchema;

use crate::{Action, HistoryEntry, Host, ModulePlan, Refusal, Result};

/// How one module's objects changed since its last upgrade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// The module.
    pub module: String,
    /// When its schema was recorded (the end of its last upgrade that applied a step).
    pub recorded_at: String,
    /// What differs, object by object: "first" is the recorded schema, "second" the live one.
    pub differences: Vec<Difference>,
    /// A step finished after the recording (the process stopped between its commit and the
    /// recording), so the record does not describe what the steps left: no difference is
    /// listed, nothing is refused, and the module's next upgrade records its schema again.
    pub stale: bool,
}

impl Drift {
    /// One line per difference, each side named (for a stale record, one line saying so).
    pub fn lines(&self) -> Vec<String> {
        if self.stale {
            return vec![format!(
                "not known: a step finished after the schema was recorded at {} (the upgrade \
                 stopped before recording it); the next upgrade of {} records it again",
                self.recorded_at, self.module
            )];
        }
        self.differences
            .iter()
            .map(|d| d.describe(("after its last step", "now")))
            .collect()
    }
}

impl Host {
    /// The modules whose objects changed since their last upgrade, with what changed (a
    /// module whose schema was never recorded has no drift).
    ///
    /// Where the database keeps its schema as text (SQLite), a check in the state the last
    /// upgrade found settled (the same schema text, owners and records) answers without
    /// reading the whole catalog.
    pub async fn drift(&self) -> Result<Vec<Drift>> {
        let catalog = Schema::catalog_digest(&self.db).await?;
        let held = wasmig_store::held_names(&self.db).await?;
        if catalog.is_some() {
            let fingerprints = wasmig_store::recorded_fingerprints(&self.db).await?;
            let state = schema_state(catalog.as_deref(), &held, &fingerprints);
            if state.is_some() && wasmig_store::settled_schema(&self.db).await? == state {
                return Ok(Vec::new());
            }
        }
        let recorded = wasmig_store::recorded_schemas(&self.db).await?;
        if recorded.is_empty() {
            return Ok(Vec::new());
        }
        let live = self.live_schemas(&held).await?;
        let mut drifted = Vec::new();
        for (module, record) in recorded {
            let now = live.get(&module).cloned().unwrap_or_default();
            if now.fingerprint() == record.fingerprint {
                continue;
            }
            let stale = record.is_stale();
            let differences = if stale {
                Vec::new()
            } else {
                recorded_objects(&module, &record.objects)?.compare(&now)
            };
            drifted.push(Drift {
                module,
                recorded_at: record.recorded_at,
                differences,
                stale,
            });
        }
        Ok(drifted)
    }

    /// Records the live schema of each of `modules` as the one its steps left, and keeps
    /// the state as settled when every module's schema now matches its record.
    pub(crate) async fn record_schemas(&self, modules: &[&str]) -> Result<()> {
        if modules.is_empty() {
            return Ok(());
        }
        // Read before the catalog: a change made meanwhile leaves an older digest kept.
        let catalog = Schema::catalog_digest(&self.db).await?;
        let held = wasmig_store::held_names(&self.db).await?;
        let live = self.live_schemas(&held).await?;
        let empty = Schema::default();
        let part = |module: &str| live.get(module).unwrap_or(&empty);
        let now = wasmig_store::timestamp(std::time::SystemTime::now());
        let records: Vec<(&str, RecordedSchema)> = modules
            .iter()
            .map(|module| {
                let record = RecordedSchema {
                    fingerprint: part(module).fingerprint(),
                    objects: part(module).to_json(),
                    recorded_at: now.clone(),
                    steps: Default::default(),
                };
                (*module, record)
            })
            .collect();
        wasmig_store::record_schemas(&self.db, &records).await?;
        if catalog.is_none() {
            return Ok(());
        }
        let recorded = wasmig_store::recorded_fingerprints(&self.db).await?;
        let settled = recorded.iter().all(|(m, f)| part(m).fingerprint() == *f);
        let state = settled
            .then(|| schema_state(catalog.as_deref(), &held, &recorded))
            .flatten();
        // Only a shortcut: should keeping it fail, the next check reads the catalog.
        if let Err(error) = wasmig_store::set_settled_schema(&self.db, state.as_deref()).await {
            tracing::warn!(%error, "could not keep the settled schema state");
        }
        Ok(())
    }

    /// Each module's part of the live schema (one read of the catalog for all of them).
    async fn live_schemas(
        &self,
        held: &BTreeMap<String, BTreeSet<String>>,
    ) -> Result<BTreeMap<String, Schema>> {
        let holders: BTreeMap<&str, &str> = held
            .iter()
            .flat_map(|(module, names)| names.iter().map(|n| (n.as_str(), module.as_str())))
            .collect();
        let schema = Schema::read(&self.db).await?;
        Ok(schema.partition(|name| holders.get(name).copied()))
    }
}

/// A digest of what a drift check's answer depends on: the schema's text (see
/// [`Schema::catalog_digest`]), who holds which name, and the recorded fingerprints; `None`
/// where the database keeps no such text or nothing is recorded.
fn schema_state(
    catalog: Option<&str>,
    held: &BTreeMap<String, BTreeSet<String>>,
    recorded: &BTreeMap<String, String>,
) -> Option<String> {
    let catalog = catalog?;
    if recorded.is_empty() {
        return None;
    }
    let mut digest = Digester::default();
    digest.field(catalog);
    for (module, names) in held {
        digest
            .field("held")
            .field(module)
            .field(&names.len().to_string());
        for name in names {
            digest.field(name);
        }
    }
    for (module, fingerprint) in recorded {
        digest.field("recorded").field(module).field(fingerprint);
    }
    Some(digest.finish())
}

/// A module's recorded objects, read back.
fn recorded_objects(module: &str, json: &str) -> Result<Schema> {
    Schema::from_json(json).map_err(|error| {
        wasmig_store::Error::Corrupt {
            table: "wasmig_schemas",
            message: format!("the schema recorded for {module} does not parse: {error}"),
        }
        .into()
    })
}

/// Refuses a plan that would run steps of a module whose objects drifted.
pub(crate) fn refuse_drifted(plan: &mut ModulePlan, drift: Option<&Drift>) {
    let runs_steps = matches!(plan.action, Action::Apply { .. }) && !plan.pending.is_empty();
    if let (true, Some(drift)) = (runs_steps, drift.filter(|d| !d.stale)) {
        plan.action = Action::Refused {
            refusal: Refusal::Drifted {
                objects: drift.differences.len(),
            },
        };
    }
}

/// The history row that records an operator's acceptance of `drift` for a module at
/// `version`.
pub(crate) fn accepted(drift: &Drift, version: semver::Version) -> HistoryEntry {
    let now = wasmig_store::timestamp(std::time::SystemTime::now());
    let keys: Vec<&str> = drift.differences.iter().map(Difference::key).collect();
    HistoryEntry {
        module: drift.module.clone(),
        kind: wasmig_store::EntryKind::Drift,
        step: 0,
        slug: "drift".into(),
        sha256: String::new(),
        version,
        started_at: now.clone(),
        finished_at: now,
        duration_ms: 0,
        outcome: wasmig_store::Outcome::Accepted,
        error: Some(format!(
            "accepted by `upgrade --accept-drift`: {}",
            keys.join(", ")
        )),
    }
}
