//! The module's SQL policy as the runtime's gate: every statement is checked by the guard,
//! what succeeded is recorded as owned, and SQLite's authorizer gets the same policy.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use wasmig_db::{Authorizer, Transaction};
use wasmig_guard::authorizer::SharedPolicy;
use wasmig_guard::{Catalog, Effect, Grants, Policy};
use wasmig_manifest::Manifest;
use wasmig_runtime::{BoxFuture, Gate, GuestStatement, Route};

/// The gate of one step of one module.
pub(crate) struct GuardGate {
    module: String,
    policy: SharedPolicy,
    /// What the statement last checked will change once it succeeds.
    pending: Vec<Effect>,
    /// Verdicts by statement text (a batch sends the same text many times); cleared whenever
    /// ownership changes.
    verdicts: HashMap<String, Result<Vec<Effect>, String>>,
}

impl GuardGate {
    /// The gate for `manifest`'s module, with the step's transaction confined to what the
    /// module may touch (see [`GuardGate::confine`]).
    pub async fn open(
        tx: &mut Transaction,
        db: &wasmig_db::Database,
        manifest: &Manifest,
        require_prefix: bool,
    ) -> Result<Self, crate::Error> {
        let gate = Self::read(tx, manifest, require_prefix).await?;
        gate.confine(tx, db, manifest).await?;
        Ok(gate)
    }

    /// The gate for `manifest`'s module, from the objects existing in the step's transaction.
    async fn read(
        tx: &mut Transaction,
        manifest: &Manifest,
        require_prefix: bool,
    ) -> Result<Self, crate::Error> {
        let home = tx.home_schema().await?;
        let mut owners: BTreeMap<String, String> = wasmig_store::owners(tx).await?;
        let mut objects: BTreeMap<String, Option<String>> = BTreeMap::new();
        let names = tx.object_names().await?;
        // The database names some indexes itself (MySQL's for a UNIQUE column or a foreign
        // key): an index or trigger nobody claimed belongs to whoever owns its table.
        let table_owners: BTreeMap<String, String> = names
            .iter()
            .filter_map(|(name, table)| match (table, owners.get(name)) {
                (None, Some(owner)) => Some((name.clone(), owner.clone())),
                _ => None,
            })
            .collect();
        for (name, table) in names {
            let owner = owners
                .remove(&name)
                .or_else(|| table.and_then(|t| table_owners.get(&t).cloned()));
            objects.insert(name, owner);
        }
        // Names a module owns but dropped stay reserved for it.
        objects.extend(owners.into_iter().map(|(name, owner)| (name, Some(owner))));
        let grants = Grants {
            read: manifest.grants.read.iter().cloned().collect(),
            write: manifest.grants.write.iter().cloned().collect(),
        };
        let mut policy = Policy::new(
            tx.dialect(),
            &manifest.name,
            home.as_deref(),
            &Catalog { objects },
            grants,
        );
        if require_prefix {
            policy = policy.require_prefix(&format!("{}_", manifest.name));
        }
        Ok(GuardGate {
            module: manifest.name.clone(),
            policy: SharedPolicy::new(policy),
            pending: Vec::new(),
            verdicts: HashMap::new(),
        })
    }
}

impl GuardGate {
    /// On PostgreSQL, runs the guest's statements as a role of the module's own that owns its
    /// objects and holds its grants: the server's privilege checks back the policy up.
    async fn confine(
        &self,
        tx: &mut Transaction,
        db: &wasmig_db::Database,
        manifest: &Manifest,
    ) -> Result<(), crate::Error> {
        let owned: Vec<(String, String)> = self
            .policy
            .lock()
            .owned()
            .iter()
            .map(|name| (name.clone(), String::new()))
            .collect();
        let role = format!("wasmig_m_{}", manifest.name);
        let confined = tx
            .confine_guest(
                db,
                &role,
                &owned,
                &manifest.grants.read,
                &manifest.grants.write,
            )
            .await?;
        if !confined && tx.dialect() == wasmig_db::Dialect::Postgres {
            tracing::debug!(
                module = %manifest.name,
                "the database account may not create roles: the SQL policy is the only check"
            );
        }
        Ok(())
    }
}

impl Gate for GuardGate {
    fn check(&mut self, statement: &GuestStatement<'_>) -> Result<Route, String> {
        let (policy, sql) = (&self.policy, statement.sql);
        let verdict = self
            .verdicts
            .entry(sql.to_owned())
            .or_insert_with(|| {
                policy
                    .lock()
                    .check(sql)
                    .map_err(|denial| denial.to_string())
            })
            .clone();
        self.pending = verdict?;
        self.policy.statement_starts(&self.pending);
        let setting = self
            .pending
            .iter()
            .any(|effect| matches!(effect, Effect::Setting { .. }));
        Ok(if setting {
            Route::Setting
        } else {
            Route::Guest
        })
    }

    fn claim<'a>(&'a mut self, tx: &'a mut Transaction) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            for effect in &self.pending {
                let claimed = match effect {
                    Effect::Created { name, kind } => {
                        wasmig_store::claim(tx, &self.module, name, kind.as_str()).await
                    }
                    Effect::Renamed { to, .. } => {
                        wasmig_store::claim(tx, &self.module, to, "table").await
                    }
                    Effect::Dropped { .. } | Effect::Setting { .. } => Ok(()),
                };
                claimed.map_err(|e| e.to_string())?;
            }
            Ok(())
        })
    }

    fn ran<'a>(&'a mut self, tx: &'a mut Transaction) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let effects = std::mem::take(&mut self.pending);
            if effects.is_empty() {
                return Ok(());
            }
            self.policy.lock().apply(&effects);
            self.verdicts.clear();
            for effect in &effects {
                let recorded = match effect {
                    Effect::Created { name, kind } => {
                        wasmig_store::claim(tx, &self.module, name, kind.as_str()).await
                    }
                    Effect::Dropped { name } => wasmig_store::release(tx, name).await,
                    Effect::Renamed { from, to } => wasmig_store::rename(tx, from, to).await,
                    Effect::Setting { .. } => Ok(()),
                };
                recorded.map_err(|e| e.to_string())?;
            }
            Ok(())
        })
    }

    fn authorizer(&self) -> Option<Arc<dyn Authorizer>> {
        Some(Arc::new(self.policy.clone()))
    }
}
