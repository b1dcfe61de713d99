//! Who holds which name in the database: read once, then kept between steps for as long as
//! the database says its schema did not change, and brought up to date by the steps' own
//! changes as they commit.
//!
//! A step's policy needs the holder of every name it could touch. Reading every name and every
//! owner again for each step costs as much as the database is large. SQLite counts committed
//! schema changes (`PRAGMA schema_version`): a catalog read at one version, with the number of
//! names modules hold, stays right until either moves. A step's own changes (what its gate
//! records as created, dropped or renamed) are applied to the kept catalog once its
//! transaction commits, under the version the step left: the next step reads nothing. Any
//! other change (another connection, a step rolled back, a host's own DDL) leaves versions
//! that match nothing kept, and the catalog is read again. PostgreSQL and MariaDB/MySQL keep
//! no such counter: their catalog is read for each step.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use wasmig_db::Transaction;
use wasmig_guard::Catalog;

/// The catalog last read, and the changes of the step running now.
#[derive(Debug, Clone, Default)]
pub(crate) struct Holders {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    /// A catalog and the committed state it was read in (or brought up to).
    kept: Option<(Stamp, Arc<Catalog>)>,
    /// The running step's changes to the catalog it started with.
    pending: Option<Pending>,
    /// Steps that started with a kept catalog so far (each step's [`Pending::step`]).
    steps: u64,
}

/// What a step changed, applied to the kept catalog once its transaction commits.
#[derive(Debug)]
struct Pending {
    /// Which step made the changes (only its own commit applies them).
    step: u64,
    /// The catalog the step started with.
    base: Arc<Catalog>,
    /// The state after its last change (`None` before its first).
    stamp: Option<Stamp>,
    /// Names it took (with its module) or renamed, in order.
    changes: Vec<Change>,
}

/// A change a step made to who holds which name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// `module` holds `name` (a name dropped stays reserved: no change).
    Claimed { name: String, module: String },
    /// What `from` named is named `to`, with the same holder.
    Renamed { from: String, to: String },
}

/// What names a committed state of the database: SQLite's schema version and the number of
/// names modules hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    schema_version: i64,
    owners: i64,
}

impl Holders {
    /// The holders of every name as `tx` sees them at the start of a step: the catalog kept
    /// when the database's stamp still matches, read afresh (and kept) otherwise.
    pub async fn catalog(&self, tx: &mut Transaction) -> Result<Arc<Catalog>, crate::Error> {
        self.lock().pending = None;
        let stamp = match tx.committed_schema_version().await? {
            Some(schema_version) => Some(stamp(tx, schema_version).await?),
            None => None,
        };
        let kept = match (stamp, &self.lock().kept) {
            (Some(stamp), Some((at, catalog))) if stamp == *at => Some(Arc::clone(catalog)),
            _ => None,
        };
        let catalog = match kept {
            Some(catalog) => {
                // Debug builds (the tests) check what was kept against the database.
                if cfg!(debug_assertions) {
                    let fresh = read(tx).await?;
                    assert_eq!(
                        *catalog, fresh,
                        "the kept catalog differs from the database"
                    );
                }
                catalog
            }
            None => Arc::new(read(tx).await?),
        };
        if let Some(stamp) = stamp {
            let mut state = self.lock();
            state.kept = Some((stamp, Arc::clone(&catalog)));
            state.steps += 1;
            state.pending = Some(Pending {
                step: state.steps,
                base: Arc::clone(&catalog),
                stamp: None,
                changes: Vec::new(),
            });
        }
        Ok(catalog)
    }

    /// Notes `changes` the running step made (already recorded in `tx`), to apply once `tx`
    /// commits. Nothing to do where the step's catalog is not kept.
    pub async fn changed(
        &self,
        tx: &mut Transaction,
        changes: Vec<Change>,
    ) -> Result<(), crate::Error> {
        let Some(step) = self.lock().pending.as_ref().map(|p| p.step) else {
            return Ok(());
        };
        let Some(schema_version) = tx.schema_version().await? else {
            return Ok(());
        };
        let now = stamp(tx, schema_version).await?;
        if let Some(pending) = self.lock().pending.as_mut().filter(|p| p.step == step) {
            pending.stamp = Some(now);
            pending.changes.extend(changes);
        }
        let holders = self.clone();
        tx.after_commit(move || holders.committed(step));
        Ok(())
    }

    /// The transaction of `step` committed: its changes become the kept catalog.
    fn committed(&self, step: u64) {
        let mut state = self.lock();
        if state.pending.as_ref().is_none_or(|p| p.step != step) {
            return;
        }
        let Some(Pending {
            base,
            stamp: Some(stamp),
            changes,
            ..
        }) = state.pending.take()
        else {
            return;
        };
        let mut catalog = Arc::unwrap_or_clone(base);
        for change in changes {
            match change {
                Change::Claimed { name, module } => {
                    catalog.objects.insert(name, Some(module));
                }
                Change::Renamed { from, to } => {
                    let holder = catalog.objects.remove(&from).flatten();
                    catalog.objects.insert(to, holder);
                }
            }
        }
        state.kept = Some((stamp, Arc::new(catalog)));
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The stamp of the state `tx` sees, at `schema_version`.
async fn stamp(tx: &mut Transaction, schema_version: i64) -> Result<Stamp, crate::Error> {
    Ok(Stamp {
        schema_version,
        owners: wasmig_store::owners_count(tx).await?,
    })
}

/// Every name in the database with its holder: the module recorded as its owner, else (an
/// index or trigger the database named itself) the owner of its table, else nobody.
async fn read(tx: &mut Transaction) -> Result<Catalog, crate::Error> {
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
    Ok(Catalog { objects })
}
