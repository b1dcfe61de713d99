//! The module's SQL policy as the runtime's gate: every statement is checked by the guard,
//! what succeeded is recorded as owned, and SQLite's authorizer gets the same policy.

use std::collections::HashMap;
use std::sync::Arc;

use wasmig_db::{Authorizer, Denial, Rule, Transaction};
use wasmig_guard::authorizer::SharedPolicy;
use wasmig_guard::{Effect, Grants, MultiRowInsert, ObjectKind, Policy};

use crate::holders::{Change, Holders};
use wasmig_manifest::Manifest;
use wasmig_runtime::{BoxFuture, Gate, GuestStatement, HostFailure, Route};

/// What an operator decides about the policy of every module, and who holds which name (kept
/// between steps, see [`Holders`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct PolicySettings {
    /// True when every object a module creates must be named `<module>_…`.
    pub require_prefix: bool,
    /// Extensions a module may ask for (`CREATE EXTENSION IF NOT EXISTS`); the host creates them.
    pub extensions: Vec<String>,
    /// The holders of every name, as last read.
    pub holders: Holders,
}

/// The gate of one step of one module.
pub(crate) struct GuardGate {
    module: String,
    /// The database, for grants made outside the step's transaction (MariaDB/MySQL).
    db: wasmig_db::Database,
    /// The schema the step works in (PostgreSQL), pinned as the `search_path` of its functions.
    home: Option<String>,
    policy: SharedPolicy,
    /// What the statement last checked will change once it succeeds.
    pending: Vec<Effect>,
    /// Who holds which name, told what the step changes.
    holders: Holders,
    /// Verdicts by statement text (a batch sends the same text many times); cleared whenever
    /// ownership changes.
    verdicts: HashMap<String, Result<Vec<Effect>, Denial>>,
    /// Batch statements already read as repeatable single-row `INSERT`s (or not).
    multi_rows: HashMap<String, Option<MultiRowInsert>>,
}

impl GuardGate {
    /// The gate for `manifest`'s module, with the step's transaction confined to what the
    /// module may touch (see [`GuardGate::confine`]).
    pub async fn open(
        tx: &mut Transaction,
        db: &wasmig_db::Database,
        manifest: &Manifest,
        settings: &PolicySettings,
    ) -> Result<Self, crate::Error> {
        let gate = Self::read(tx, db, manifest, settings).await?;
        let confined = gate.confine(tx, manifest).await?;
        // Code (functions, `DO`) is PostgreSQL's: confined there by the module's role.
        let code_confined = confined && tx.dialect() == wasmig_db::Dialect::Postgres;
        gate.policy.lock().set_confined(code_confined);
        Ok(gate)
    }

    /// The module's policy as the catalog in `tx` makes it now (for checking statements that
    /// cannot run, such as SQL steps in a plan on MySQL).
    pub async fn policy_now(
        tx: &mut Transaction,
        db: &wasmig_db::Database,
        manifest: &Manifest,
        settings: &PolicySettings,
    ) -> Result<Policy, crate::Error> {
        let gate = Self::read(tx, db, manifest, settings).await?;
        let policy = gate.policy.lock().clone();
        Ok(policy)
    }

    /// The gate for `manifest`'s module, from the objects existing in the step's transaction.
    async fn read(
        tx: &mut Transaction,
        db: &wasmig_db::Database,
        manifest: &Manifest,
        settings: &PolicySettings,
    ) -> Result<Self, crate::Error> {
        let home = tx.home_schema().await?;
        let catalog = settings.holders.catalog(tx).await?;
        let grants = Grants {
            read: manifest.grants.read.iter().cloned().collect(),
            write: manifest.grants.write.iter().cloned().collect(),
        };
        let mut policy = Policy::new(
            tx.dialect(),
            &manifest.name,
            home.as_deref(),
            catalog,
            grants,
        );
        if settings.require_prefix {
            policy = policy.require_prefix(&format!("{}_", manifest.name));
        }
        let policy = policy.allow_extensions(settings.extensions.iter().cloned());
        Ok(GuardGate {
            module: manifest.name.clone(),
            db: db.clone(),
            home,
            policy: SharedPolicy::new(policy),
            pending: Vec::new(),
            holders: settings.holders.clone(),
            verdicts: HashMap::new(),
            multi_rows: HashMap::new(),
        })
    }
}

impl GuardGate {
    /// Runs the guest's statements as a PostgreSQL role or MariaDB/MySQL account of the
    /// module's own that owns its objects and holds its grants: the server's privilege checks
    /// back the policy up.
    async fn confine(
        &self,
        tx: &mut Transaction,
        manifest: &Manifest,
    ) -> Result<bool, crate::Error> {
        let owned: Vec<String> = self.policy.lock().owned().iter().cloned().collect();
        let role = match tx.dialect() {
            wasmig_db::Dialect::MySql => module_account(&manifest.name),
            _ => module_role(&manifest.name),
        };
        let grants = wasmig_confine::Grants {
            owned: &owned,
            read: &manifest.grants.read,
            write: &manifest.grants.write,
        };
        let confined = wasmig_confine::confine(tx, &self.db, &role, grants).await?;
        if !confined && tx.dialect() != wasmig_db::Dialect::Sqlite {
            tracing::debug!(
                module = %manifest.name,
                "no role or account confines the module here: the SQL policy is the only check"
            );
        }
        Ok(confined)
    }
}

impl GuardGate {
    /// How the statement last checked runs, from what it does.
    fn route(&self, sql: &str) -> Result<Route, Denial> {
        for effect in &self.pending {
            match effect {
                Effect::Setting { .. } => return Ok(Route::Setting),
                Effect::Extension { .. } => return Ok(Route::Host),
                Effect::Block { body } => {
                    let statements = self.block(body);
                    let refused = |reason| Denial::new(Rule::Code, sql, reason);
                    return statements.map(Route::Instead).map_err(refused);
                }
                Effect::Catalog { confined } => return Ok(Route::Rewritten(confined.clone())),
                Effect::Skipped => return Ok(Route::Instead(Vec::new())),
                _ => {}
            }
        }
        Ok(Route::Guest)
    }

    /// A `DO` block as the statements that run it as a `SECURITY DEFINER` function of the
    /// module's role (inside which PostgreSQL forbids `SET ROLE`), dropped right after.
    fn block(&self, body: &str) -> Result<Vec<String>, String> {
        const TAG: &str = "$wasmig_do$";
        if body.contains(TAG) {
            return Err(format!("a DO block may not contain `{TAG}`"));
        }
        let function = "wasmig_do_block";
        Ok(vec![
            format!(
                "CREATE FUNCTION {function}() RETURNS void LANGUAGE plpgsql SECURITY DEFINER \
                 SET search_path = {} AS {TAG}{body}{TAG}",
                self.search_path()
            ),
            format!("SELECT {function}()"),
            format!("DROP FUNCTION {function}()"),
        ])
    }

    /// The `search_path` a module's functions run with: its own schema, then nothing else.
    fn search_path(&self) -> String {
        let home = self.home.as_deref().unwrap_or("public");
        format!("\"{}\", pg_temp", home.replace('"', "\"\""))
    }

    /// Makes every function named `name` in the module's schema run as the module's role
    /// (`SECURITY DEFINER`, inside which PostgreSQL forbids `SET ROLE`) with a pinned
    /// `search_path`, callable by that role only: a trigger that fires it for someone else
    /// still runs with the module's rights.
    async fn confine_function(&self, tx: &mut Transaction, name: &str) -> Result<(), HostFailure> {
        let builtin = tx
            .query(
                "SELECT count(*)::int8 FROM pg_catalog.pg_proc \
                 WHERE proname = $1 AND pronamespace = 'pg_catalog'::regnamespace",
                &[name.into()],
            )
            .await?;
        if builtin.rows.first().and_then(|r| r[0].as_integer()) != Some(0) {
            return Err(format!(
                "`{name}` is the name of a function of PostgreSQL's own catalog: a module's \
                 function of that name would be called instead of it by whoever passes \
                 matching arguments; name it after the module"
            )
            .into());
        }
        self.alter_function(tx, name)
            .await
            .map_err(|e| format!("confining the function `{name}` failed: {e}").into())
    }

    /// Makes the functions named `name` `SECURITY DEFINER` with the pinned search path, and
    /// callable by the module's role only.
    async fn alter_function(
        &self,
        tx: &mut Transaction,
        name: &str,
    ) -> Result<(), wasmig_db::Error> {
        let signatures = tx
            .query(
                "SELECT p.oid::regprocedure::text FROM pg_proc p \
                 WHERE p.proname = $1 AND p.pronamespace = current_schema()::regnamespace",
                &[name.into()],
            )
            .await?;
        for signature in signatures.rows.iter().filter_map(|r| r[0].as_text()) {
            tx.execute(
                &format!(
                    "ALTER FUNCTION {signature} SECURITY DEFINER SET search_path = {}",
                    self.search_path()
                ),
                &[],
            )
            .await?;
            tx.execute(
                &format!("REVOKE ALL ON FUNCTION {signature} FROM PUBLIC"),
                &[],
            )
            .await?;
        }
        Ok(())
    }
}

/// The PostgreSQL role of a module: `wasmig_m_<module>`, or, where that would pass
/// PostgreSQL's 63 bytes (and be cut, so that two long names could share a role), its first
/// 45 bytes and 8 hex digits of the name's sha256.
pub(crate) fn module_role(module: &str) -> String {
    derived_name(module, 63)
}

/// The MariaDB/MySQL account of a module, derived like [`module_role`] within MySQL's 32
/// characters for a user name.
pub(crate) fn module_account(module: &str) -> String {
    derived_name(module, 32)
}

/// `wasmig_m_<module>`, or, where that would pass `limit` bytes, its first `limit - 9` bytes
/// and 8 hex digits of the name's sha256.
fn derived_name(module: &str, limit: usize) -> String {
    let name = format!("wasmig_m_{module}");
    if name.len() <= limit {
        return name;
    }
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(module.as_bytes());
    let hash: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}_{hash}", &name[..limit - 9])
}

impl Gate for GuardGate {
    fn multi_row(&mut self, sql: &str, rows: usize, named: bool) -> Option<(String, usize)> {
        if !self.multi_rows.contains_key(sql) {
            let dialect = self.policy.lock().dialect();
            let insert = MultiRowInsert::recognize(dialect, sql);
            self.multi_rows.insert(sql.to_owned(), insert);
        }
        let insert = self.multi_rows.get(sql)?.as_ref()?;
        let text = if named {
            insert.for_rows_named(rows, wasmig_db::mysql_guest_variable)
        } else {
            insert.for_rows(rows)
        };
        // The text repeats the placeholder tuple of `sql`, a plain single-row INSERT: it is
        // checked as `sql` (see `check`). Parsing thousands of placeholders again would cost
        // more than the rows' insert (41 ms for 1,000 rows of 3 on PostgreSQL, measured).
        Some((text, insert.columns()))
    }

    fn touched(&self) -> Vec<String> {
        Policy::touched(&self.pending)
    }

    fn reads_only(&self, sql: &str) -> bool {
        self.policy.lock().reads_only(sql)
    }

    fn check(&mut self, statement: &GuestStatement<'_>) -> Result<Route, Denial> {
        let sql = statement.sql;
        // The host's multi-row form of a single-row INSERT does what that INSERT does, once
        // per row. The same text sent by the guest itself is judged as written (its session
        // variables are not the guest's to name).
        let verdict = self.verdict(statement.repeats.unwrap_or(sql));
        // A denied statement changes nothing, whatever the one before it would have.
        let denied = verdict.as_ref().err().cloned();
        self.pending = verdict.unwrap_or_default();
        self.policy.statement_starts(&self.pending);
        match denied {
            Some(denial) => Err(denial),
            None => self.route(sql),
        }
    }

    fn claim<'a>(&'a mut self, tx: &'a mut Transaction) -> BoxFuture<'a, Result<(), HostFailure>> {
        Box::pin(async move {
            for effect in &self.pending {
                let claimed = match effect {
                    Effect::Created { name, kind } => {
                        wasmig_store::claim(tx, &self.module, name, kind.as_str()).await
                    }
                    Effect::Renamed { to, .. } => {
                        wasmig_store::claim(tx, &self.module, to, "table").await
                    }
                    _ => Ok(()),
                };
                claimed?;
                // MariaDB/MySQL: the module's account may use what the statement makes.
                let made = match effect {
                    Effect::Created {
                        name,
                        kind: ObjectKind::Table | ObjectKind::View,
                    } => Some(name),
                    Effect::Renamed { to, .. } => Some(to),
                    _ => None,
                };
                if let Some(name) = made {
                    wasmig_confine::grant_new(tx, &self.db, name, true).await?;
                }
                if let Effect::Refers { name } = effect {
                    wasmig_confine::grant_new(tx, &self.db, name, false).await?;
                }
            }
            Ok(())
        })
    }

    fn ran<'a>(
        &'a mut self,
        tx: &'a mut Transaction,
    ) -> Option<BoxFuture<'a, Result<(), HostFailure>>> {
        if self.pending.is_empty() {
            return None;
        }
        Some(Box::pin(async move {
            let effects = std::mem::take(&mut self.pending);
            self.policy.lock().apply(&effects);
            self.verdicts.clear();
            for effect in &effects {
                let recorded = match effect {
                    Effect::Created { name, kind } => {
                        wasmig_store::claim(tx, &self.module, name, kind.as_str()).await
                    }
                    Effect::Dropped { name } => wasmig_store::keep_reserved(tx, name).await,
                    Effect::Renamed { from, to } => wasmig_store::rename(tx, from, to).await,
                    _ => Ok(()),
                };
                recorded?;
                if let Effect::Created {
                    name,
                    kind: ObjectKind::Function,
                } = effect
                {
                    self.confine_function(tx, name).await?;
                }
            }
            self.tell_holders(tx, &effects).await
        }))
    }

    fn authorizer(&self) -> Option<Arc<dyn Authorizer>> {
        Some(Arc::new(self.policy.clone()))
    }
}

impl GuardGate {
    /// The policy's verdict on `sql`, from the cache when it was checked since ownership last
    /// changed (looked up by `&str`: a statement sent row after row costs no allocation).
    fn verdict(&mut self, sql: &str) -> Result<Vec<Effect>, Denial> {
        if let Some(verdict) = self.verdicts.get(sql) {
            return verdict.clone();
        }
        let verdict = self.policy.lock().check(sql);
        self.verdicts.insert(sql.to_owned(), verdict.clone());
        verdict
    }

    /// Tells the kept holders what a statement that changed the schema changed (see
    /// [`Holders`]).
    async fn tell_holders(
        &self,
        tx: &mut Transaction,
        effects: &[Effect],
    ) -> Result<(), HostFailure> {
        let mut schema_changed = false;
        let mut changes = Vec::new();
        for effect in effects {
            match effect {
                Effect::Created { name, .. } => changes.push(Change::Claimed {
                    name: name.clone(),
                    module: self.module.clone(),
                }),
                Effect::Renamed { from, to } => changes.push(Change::Renamed {
                    from: from.clone(),
                    to: to.clone(),
                }),
                Effect::Dropped { .. } | Effect::Altered { .. } => {}
                _ => continue,
            }
            schema_changed = true;
        }
        if schema_changed {
            self.holders.changed(tx, changes).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::module_role;

    #[test]
    fn long_module_names_never_share_a_role() {
        assert_eq!(module_role("blog"), "wasmig_m_blog");
        let prefix = "a".repeat(56);
        let (one, two) = (
            module_role(&format!("{prefix}_one")),
            module_role(&format!("{prefix}_two")),
        );
        assert_ne!(one, two);
        assert!(one.len() <= 63 && two.len() <= 63, "{one} {two}");
        assert_eq!(module_role(&"b".repeat(54)).len(), 63);
        assert_eq!(super::module_account("blog"), "wasmig_m_blog");
        let long = "a".repeat(40);
        assert_eq!(super::module_account(&long).len(), 32);
        assert_ne!(
            super::module_account(&format!("{long}_one")),
            super::module_account(&format!("{long}_two"))
        );
    }
}
