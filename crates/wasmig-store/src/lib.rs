//! The ledger: tables in the target database, created on first use.
//!
//! - `wasmig_modules`: one row per module: its installed version (`NULL` while a fresh install
//!   is still under way), the last step applied, its status and timestamps.
//! - `wasmig_history`: one row per step run (or covered by an install): module, step number
//!   (0 for `install`), slug, sha256 of the component, target version, start, finish, duration,
//!   outcome and error text.
//! - `wasmig_journal`, `wasmig_objects`: statements of running steps (MySQL), object owners.
//! - `wasmig_inactive`: modules an operator deactivated; `wasmig_maintenance`: the flag an
//!   embedding application reads while an upgrade runs.
//! - `wasmig_schemas`: each module's schema as its last upgrade left it (drift is measured
//!   from it); `wasmig_settled_schema`: the state in which no module had drifted, so that a
//!   check in the same state need not read the catalog.
//! - `wasmig_last_job`: the outcome of the last upgrade job `wasmig serve` ran.
//!
//! A step's ledger rows are written in the step's own transaction, so a step and its record
//! commit or vanish together.

mod jobs;
mod ledger;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use semver::Version;
use serde::Serialize;
use wasmig_db::{Database, Dialect, Intent, RowSet, Transaction, Value};

pub use jobs::{JobRecord, last_job, record_last_job};
pub use ledger::Ledger;

/// Why the ledger could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database failed.
    #[error("ledger: {0}")]
    Db(wasmig_db::Error),
    /// A ledger row holds a value this version of wasmig cannot understand.
    #[error("ledger: corrupt row in {table}: {message}")]
    Corrupt {
        /// The ledger table.
        table: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl From<wasmig_db::Error> for Error {
    fn from(error: wasmig_db::Error) -> Self {
        Error::Db(error)
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The step number recorded for a module's install component.
pub const INSTALL_STEP: u32 = 0;

/// The state of a module in a database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleRecord {
    /// The module's name.
    pub module: String,
    /// The version the database is at; `None` while a fresh install is under way.
    pub version: Option<Version>,
    /// The last step applied (or covered by the install component); 0 when none.
    pub last_step: u32,
    /// Whether the last attempt succeeded.
    pub status: ModuleStatus,
    /// When the module was first touched (RFC 3339, UTC).
    pub installed_at: String,
    /// When its row last changed (RFC 3339, UTC).
    pub updated_at: String,
}

/// Whether a module's last upgrade attempt succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModuleStatus {
    /// Every step attempted so far was applied.
    Ok,
    /// The last attempted step failed and was rolled back; the module stays at `last_step`.
    Failed,
    /// Step `last_step + 1` is running, or was left running by a process that died (only on
    /// databases without transactional DDL, where a step is recorded before it starts).
    Running,
    /// Step `last_step + 1` failed after some of its statements had committed (MySQL DDL):
    /// it must be resumed or repaired before the module can be upgraded again.
    Dirty,
}

impl ModuleStatus {
    /// True when the module has a step that neither completed nor rolled back.
    pub fn is_unfinished(self) -> bool {
        matches!(self, ModuleStatus::Running | ModuleStatus::Dirty)
    }
}

/// What happened to one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The step ran and committed.
    Applied,
    /// The step did not run because the install component created the schema it leads to.
    Covered,
    /// The step failed (and was rolled back where the database allows it).
    Failed,
    /// The step is running, or was left running by a process that died.
    Running,
    /// The step was left running by a process that died; a later attempt replaced it.
    Interrupted,
    /// The step's file changed after it was applied, and an operator accepted the new
    /// checksum (`wasmig repair --accept-changed`); nothing ran.
    Accepted,
    /// The module's objects and ledger rows were brought back from a backup.
    Restored,
}

/// The sha256 each numbered step had when it was last applied, or accepted by an operator,
/// by module.
pub async fn applied_checksums(db: &Database) -> Result<BTreeMap<String, BTreeMap<u32, String>>> {
    let rows = db
        .query(
            &format!(
                "SELECT module, step, sha256 FROM wasmig_history \
                 WHERE step <> {INSTALL_STEP} AND outcome IN ('{}', '{}') ORDER BY id",
                Outcome::Applied,
                Outcome::Accepted
            ),
            &[],
        )
        .await?;
    let mut checksums: BTreeMap<String, BTreeMap<u32, String>> = BTreeMap::new();
    for (module, step, sha256) in decode_all("wasmig_history", rows, |c| {
        Ok((c.parsed::<String>()?, c.integer()?, c.parsed::<String>()?))
    })? {
        // Ordered by id: a later record of a step replaces an earlier one.
        checksums.entry(module).or_default().insert(step, sha256);
    }
    Ok(checksums)
}

/// What a history row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A numbered step of the module.
    Step,
    /// The module's install component (or script), which covers every step.
    Install,
    /// The module's uninstall step.
    Uninstall,
    /// The module's objects and ledger rows brought back from a backup.
    Restore,
    /// Changes made to the module's objects outside its steps, accepted by an operator
    /// (`upgrade --accept-drift`).
    Drift,
}

/// One row of the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    /// The module's name.
    pub module: String,
    /// What the row is about: a numbered step, or the module's install, uninstall or restore.
    pub kind: EntryKind,
    /// The step number; [`INSTALL_STEP`] for the other kinds.
    pub step: u32,
    /// The step's slug (`create_posts`), or `install`.
    pub slug: String,
    /// The sha256 of the component that ran, hex.
    pub sha256: String,
    /// The module version this run was bringing the database to.
    pub version: Version,
    /// When the step started (RFC 3339, UTC).
    pub started_at: String,
    /// When it finished (RFC 3339, UTC).
    pub finished_at: String,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// What happened.
    pub outcome: Outcome,
    /// Why it failed, when it did; for an applied step, the statements it tolerated.
    pub error: Option<String>,
}

impl HistoryEntry {
    /// `002_add_status`, or `install`, `uninstall`, `restore`.
    pub fn step_name(&self) -> String {
        match self.kind {
            EntryKind::Step => format!("{:03}_{}", self.step, self.slug),
            _ => self.slug.clone(),
        }
    }
}

/// The current time as the ledger writes it.
pub fn timestamp(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

/// The ledger's SQL is written with `?` placeholders; PostgreSQL numbers them (`$1`, `$2`).
fn placeholders(dialect: Dialect, sql: &str) -> String {
    if dialect != Dialect::Postgres {
        return sql.to_owned();
    }
    let mut numbered = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            numbered.push_str(&format!("${n}"));
        } else {
            numbered.push(c);
        }
    }
    numbered
}

/// True when the ledger tables exist (reading a database never creates them).
pub async fn exists(db: &Database) -> Result<bool> {
    table_exists(db, "wasmig_modules").await
}

/// True when the ledger table `name` exists (a ledger made by an older wasmig lacks the
/// newer tables until its next upgrade creates them).
async fn table_exists(db: &Database, name: &str) -> Result<bool> {
    let rows = db
        .query(&table_exists_sql(db.dialect()), &[name.into()])
        .await?;
    Ok(first_count(&rows) > 0)
}

/// Like [`table_exists`], inside a transaction.
async fn table_exists_in(tx: &mut Transaction, name: &str) -> Result<bool> {
    let rows = tx
        .query(&table_exists_sql(tx.dialect()), &[name.into()])
        .await?;
    Ok(first_count(&rows) > 0)
}

fn table_exists_sql(dialect: Dialect) -> String {
    let sql = match dialect {
        // The table-valued pragma looks the name up in the schema held in memory; a query of
        // `sqlite_master` would read every object's row (SQLite 3.37 and later).
        Dialect::Sqlite => {
            "SELECT COUNT(*) FROM pragma_table_list(?) WHERE schema = 'main' AND type = 'table'"
        }
        Dialect::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = ?"
        }
        Dialect::MySql => {
            "SELECT COUNT(*) FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name = ?"
        }
    };
    placeholders(dialect, sql)
}

fn first_count(rows: &RowSet) -> i64 {
    rows.rows
        .first()
        .and_then(|row| row.first())
        .and_then(Value::as_integer)
        .unwrap_or(0)
}

/// Brings ledger tables created by an older wasmig up to date.
async fn upgrade_schema(tx: &mut Transaction) -> Result<()> {
    // Statements journaled as intents (before they commit by themselves).
    add_column_if_missing(tx, "wasmig_journal", "intent TEXT").await?;
    // What a row is about, once told by step 0 and its slug alone.
    add_column_if_missing(
        tx,
        "wasmig_history",
        "kind VARCHAR(16) NOT NULL DEFAULT 'step'",
    )
    .await?;
    // Rows of step 0 written before rows had a kind (wasmig writes them as `install`,
    // `uninstall` or `restore` now), derived again on every run: on MySQL the ALTER above
    // commits by itself, and a crash right after it must not leave them as `step`.
    tx.execute(
        &format!(
            "UPDATE wasmig_history SET kind = {OLD_ROW_KIND} \
             WHERE step = {INSTALL_STEP} AND kind = 'step'"
        ),
        &[],
    )
    .await?;
    Ok(())
}

/// True when `table` (a ledger table) has a column `column`.
async fn column_exists(tx: &mut Transaction, table: &str, column: &str) -> Result<bool> {
    let sql = placeholders(tx.dialect(), column_query(tx.dialect()));
    let rows = tx.query(&sql, &[table.into(), column.into()]).await?;
    Ok(first_count(&rows) > 0)
}

/// [`column_exists`] outside a transaction (a read must not take SQLite's write lock).
async fn column_exists_now(db: &Database, table: &str, column: &str) -> Result<bool> {
    let sql = placeholders(db.dialect(), column_query(db.dialect()));
    let rows = db.query(&sql, &[table.into(), column.into()]).await?;
    Ok(first_count(&rows) > 0)
}

/// How many columns named `?` (the second parameter) table `?` has.
fn column_query(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "SELECT COUNT(*) FROM pragma_table_info(?) WHERE name = ?",
        Dialect::Postgres => {
            "SELECT COUNT(*) FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = ? AND column_name = ?"
        }
        Dialect::MySql => {
            "SELECT COUNT(*) FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND table_name = ? AND column_name = ?"
        }
    }
}

/// Creates the ledger tables if they do not exist yet.
pub async fn ensure_schema(db: &Database) -> Result<()> {
    let mut tx = db.begin().await?;
    create_schema(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

/// The ledger's tables of object owners, inactive modules, the maintenance flag and the
/// drift check's mark (see [`settled_schema`]).
const SIDE_TABLES: [&str; 4] = [
    "CREATE TABLE IF NOT EXISTS wasmig_objects (
        name VARCHAR(255) NOT NULL PRIMARY KEY,
        module VARCHAR(63) NOT NULL,
        kind VARCHAR(16) NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS wasmig_inactive (
        module VARCHAR(63) NOT NULL PRIMARY KEY,
        since VARCHAR(32) NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS wasmig_maintenance (
        id INTEGER NOT NULL PRIMARY KEY,
        since VARCHAR(32) NOT NULL,
        reason TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS wasmig_settled_schema (
        id INTEGER NOT NULL PRIMARY KEY,
        state CHAR(64) NOT NULL
    )",
];

/// Creates the ledger tables that do not exist yet inside `tx` (a dry run creates them in a
/// transaction it rolls back).
pub async fn create_schema(tx: &mut Transaction) -> Result<()> {
    let id = match tx.dialect() {
        Dialect::Sqlite => "id INTEGER PRIMARY KEY AUTOINCREMENT",
        Dialect::Postgres => "id BIGSERIAL PRIMARY KEY",
        Dialect::MySql => "id BIGINT AUTO_INCREMENT PRIMARY KEY",
    };
    tx.execute(
        &format!(
            "CREATE TABLE IF NOT EXISTS wasmig_history (
                {id},
                module VARCHAR(63) NOT NULL,
                kind VARCHAR(16) NOT NULL DEFAULT 'step',
                step INTEGER NOT NULL,
                slug VARCHAR(255) NOT NULL,
                sha256 CHAR(64) NOT NULL,
                version VARCHAR(255) NOT NULL,
                started_at VARCHAR(32) NOT NULL,
                finished_at VARCHAR(32) NOT NULL,
                duration_ms BIGINT NOT NULL,
                outcome VARCHAR(16) NOT NULL,
                error TEXT
            )"
        ),
        &[],
    )
    .await?;
    tx.execute(
        "CREATE TABLE IF NOT EXISTS wasmig_journal (
            module VARCHAR(63) NOT NULL,
            step INTEGER NOT NULL,
            position INTEGER NOT NULL,
            sha256 CHAR(64) NOT NULL,
            statement TEXT NOT NULL,
            rows_affected BIGINT NOT NULL,
            result TEXT,
            intent TEXT,
            PRIMARY KEY (module, step, position)
        )",
        &[],
    )
    .await?;
    upgrade_schema(tx).await?;
    for table in SIDE_TABLES {
        tx.execute(table, &[]).await?;
    }
    create_schemas_table(tx).await?;
    // Last: the ledger "exists" once this table does (on MySQL each CREATE commits by itself,
    // and a killed first run must not leave a ledger that readers take for complete).
    tx.execute(
        "CREATE TABLE IF NOT EXISTS wasmig_modules (
            module VARCHAR(63) NOT NULL PRIMARY KEY,
            version VARCHAR(255),
            last_step INTEGER NOT NULL,
            status VARCHAR(16) NOT NULL,
            installed_at VARCHAR(32) NOT NULL,
            updated_at VARCHAR(32) NOT NULL
        )",
        &[],
    )
    .await?;
    Ok(())
}

/// `wasmig_schemas`, where drift is measured from (see [`record_schema`]).
async fn create_schemas_table(tx: &mut Transaction) -> Result<()> {
    let long_text = match tx.dialect() {
        Dialect::MySql => "LONGTEXT",
        _ => "TEXT",
    };
    tx.execute(
        &format!(
            "CREATE TABLE IF NOT EXISTS wasmig_schemas (
                module VARCHAR(63) NOT NULL PRIMARY KEY,
                fingerprint CHAR(64) NOT NULL,
                objects {long_text} NOT NULL,
                recorded_at VARCHAR(32) NOT NULL,
                last_step_id BIGINT
            )"
        ),
        &[],
    )
    .await?;
    // Which step the record follows (ledgers made before it: the time of recording only).
    add_column_if_missing(tx, "wasmig_schemas", "last_step_id BIGINT").await
}

/// Adds `definition` (`name TYPE …`) to ledger table `table` when a ledger made by an earlier
/// wasmig lacks the column.
async fn add_column_if_missing(tx: &mut Transaction, table: &str, definition: &str) -> Result<()> {
    let column = definition.split_whitespace().next().unwrap_or_default();
    if !column_exists(tx, table, column).await? {
        tx.execute(&format!("ALTER TABLE {table} ADD COLUMN {definition}"), &[])
            .await?;
    }
    Ok(())
}

const MODULE_COLUMNS: &str = "module, version, last_step, status, installed_at, updated_at";

/// The kind of a history row written before rows had one: told by step 0 and its slug.
const OLD_ROW_KIND: &str = "CASE WHEN step <> 0 THEN 'step' WHEN slug = 'uninstall' THEN \
     'uninstall' WHEN slug = 'restore' THEN 'restore' ELSE 'install' END";
const HISTORY_COLUMNS: &str = "module, kind, step, slug, sha256, version, started_at, \
     finished_at, duration_ms, outcome, error";

/// Every module the ledger knows, by name.
pub async fn modules(db: &Database) -> Result<Vec<ModuleRecord>> {
    let rows = db
        .query(
            &format!("SELECT {MODULE_COLUMNS} FROM wasmig_modules ORDER BY module"),
            &[],
        )
        .await?;
    decode_all("wasmig_modules", rows, decode_module)
}

/// The history, oldest first; only `module`'s when given. A ledger written before history
/// rows had a kind (and not upgraded yet: reading changes nothing) gets it derived.
pub async fn history(db: &Database, module: Option<&str>) -> Result<Vec<HistoryEntry>> {
    let upgraded = column_exists_now(db, "wasmig_history", "kind").await?;
    let columns = if upgraded {
        HISTORY_COLUMNS.to_owned()
    } else {
        HISTORY_COLUMNS.replace("kind,", &format!("{OLD_ROW_KIND} AS kind,"))
    };
    let rows = match module {
        Some(module) => {
            db.query(
                &placeholders(
                    db.dialect(),
                    &format!("SELECT {columns} FROM wasmig_history WHERE module = ? ORDER BY id"),
                ),
                &[module.into()],
            )
            .await?
        }
        None => {
            db.query(
                &format!("SELECT {columns} FROM wasmig_history ORDER BY id"),
                &[],
            )
            .await?
        }
    };
    decode_all("wasmig_history", rows, decode_history)
}

/// Writes a module's row (insert or replace).
pub(crate) async fn save_module(tx: &mut Transaction, record: &ModuleRecord) -> Result<()> {
    let version = record.version.as_ref().map(Version::to_string);
    let updated = tx
        .execute(
            &placeholders(
                tx.dialect(),
                "UPDATE wasmig_modules SET version = ?, last_step = ?, status = ?, updated_at = ? \
                 WHERE module = ?",
            ),
            &[
                version.clone().into(),
                i64::from(record.last_step).into(),
                record.status.to_string().into(),
                record.updated_at.as_str().into(),
                record.module.as_str().into(),
            ],
        )
        .await?;
    if updated == 0 {
        tx.execute(
            &placeholders(
                tx.dialect(),
                &format!("INSERT INTO wasmig_modules ({MODULE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"),
            ),
            &[
                record.module.as_str().into(),
                version.into(),
                i64::from(record.last_step).into(),
                record.status.to_string().into(),
                record.installed_at.as_str().into(),
                record.updated_at.as_str().into(),
            ],
        )
        .await?;
    }
    Ok(())
}

/// Appends one row to the history.
pub(crate) async fn record(tx: &mut Transaction, entry: &HistoryEntry) -> Result<()> {
    tx.execute(
        &placeholders(
            tx.dialect(),
            &format!(
                "INSERT INTO wasmig_history ({HISTORY_COLUMNS}) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ),
        ),
        &[
            entry.module.as_str().into(),
            entry.kind.to_string().into(),
            i64::from(entry.step).into(),
            entry.slug.as_str().into(),
            entry.sha256.as_str().into(),
            entry.version.to_string().into(),
            entry.started_at.as_str().into(),
            entry.finished_at.as_str().into(),
            i64::try_from(entry.duration_ms).unwrap_or(i64::MAX).into(),
            entry.outcome.to_string().into(),
            entry.error.clone().into(),
        ],
    )
    .await?;
    Ok(())
}

/// Closes the `running` history row of a module's step with its final outcome, times and error.
pub(crate) async fn finish(tx: &mut Transaction, entry: &HistoryEntry) -> Result<()> {
    tx.execute(
        &placeholders(
            tx.dialect(),
            "UPDATE wasmig_history SET finished_at = ?, duration_ms = ?, outcome = ?, error = ? \
             WHERE module = ? AND step = ? AND outcome = 'running'",
        ),
        &[
            entry.finished_at.as_str().into(),
            i64::try_from(entry.duration_ms).unwrap_or(i64::MAX).into(),
            entry.outcome.to_string().into(),
            entry.error.clone().into(),
            entry.module.as_str().into(),
            i64::from(entry.step).into(),
        ],
    )
    .await?;
    Ok(())
}

/// One statement of a step as the journal keeps it: enough to skip it on a replay, and to show
/// it when a replay sends something else.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalEntry {
    /// The position of the statement in the step, from 0.
    pub position: u32,
    /// The sha256 of the statement and its parameters, hex.
    pub sha256: String,
    /// The statement's text.
    pub statement: String,
    /// The rows it affected.
    pub rows_affected: u64,
    /// What it returned, when it was a query.
    pub rows: Option<RowSet>,
    /// While the statement is in flight (written before it ran, not yet known to have
    /// finished): the objects it touches and their fingerprint before it ran.
    pub intent: Option<Intent>,
}

/// Writes journal entries inside `tx`, so that they commit with the statements they describe
/// (an entry already at a position is replaced).
pub async fn journal_write(
    tx: &mut Transaction,
    module: &str,
    step: u32,
    entries: &[JournalEntry],
) -> Result<()> {
    for entry in entries {
        journal_settle(tx, module, step, entry.position, None).await?;
        tx.execute(
            &placeholders(
                tx.dialect(),
                "INSERT INTO wasmig_journal \
                 (module, step, position, sha256, statement, rows_affected, result, intent) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            ),
            &[
                module.into(),
                i64::from(step).into(),
                i64::from(entry.position).into(),
                entry.sha256.as_str().into(),
                entry.statement.as_str().into(),
                i64::try_from(entry.rows_affected)
                    .unwrap_or(i64::MAX)
                    .into(),
                entry
                    .rows
                    .as_ref()
                    .map(|rows| serde_json::to_string(rows).expect("rows serialize"))
                    .into(),
                entry
                    .intent
                    .as_ref()
                    .map(|intent| serde_json::to_string(intent).expect("an intent serializes"))
                    .into(),
            ],
        )
        .await?;
    }
    Ok(())
}

/// Settles the entry at `position` once its statement's fate is known, inside `tx`: it took
/// effect (`Some(rows_affected)`: it stays, no longer in flight) or it did not (`None`: it is
/// removed).
pub async fn journal_settle(
    tx: &mut Transaction,
    module: &str,
    step: u32,
    position: u32,
    rows_affected: Option<u64>,
) -> Result<()> {
    let (sql, mut params): (&str, Vec<Value>) = match rows_affected {
        Some(rows) => (
            "UPDATE wasmig_journal SET intent = NULL, rows_affected = ? \
             WHERE module = ? AND step = ? AND position = ?",
            vec![i64::try_from(rows).unwrap_or(i64::MAX).into()],
        ),
        None => (
            "DELETE FROM wasmig_journal WHERE module = ? AND step = ? AND position = ?",
            Vec::new(),
        ),
    };
    params.extend([
        module.into(),
        i64::from(step).into(),
        i64::from(position).into(),
    ]);
    tx.execute(&placeholders(tx.dialect(), sql), &params)
        .await?;
    Ok(())
}

/// The journal of a module's step, in order.
pub async fn journal(db: &Database, module: &str, step: u32) -> Result<Vec<JournalEntry>> {
    let rows = db
        .query(
            &placeholders(
                db.dialect(),
                "SELECT position, sha256, statement, rows_affected, result, intent \
                 FROM wasmig_journal WHERE module = ? AND step = ? ORDER BY position",
            ),
            &[module.into(), i64::from(step).into()],
        )
        .await?;
    decode_all("wasmig_journal", rows, |c| {
        Ok(JournalEntry {
            position: c.integer()?,
            sha256: c.parsed()?,
            statement: c.parsed()?,
            rows_affected: c.integer()?,
            rows: c
                .optional_text()?
                .map(|json| serde_json::from_str(&json).map_err(|e| format!("`result`: {e}")))
                .transpose()?,
            intent: c
                .optional_text()?
                .map(|json| serde_json::from_str(&json).map_err(|e| format!("`intent`: {e}")))
                .transpose()?,
        })
    })
}

/// Forgets the journal of a module's step (once it is applied or repaired).
pub(crate) async fn journal_clear(tx: &mut Transaction, module: &str, step: u32) -> Result<()> {
    tx.execute(
        &placeholders(
            tx.dialect(),
            "DELETE FROM wasmig_journal WHERE module = ? AND step = ?",
        ),
        &[module.into(), i64::from(step).into()],
    )
    .await?;
    Ok(())
}

/// Which module owns which object name, as recorded when the objects were created (nothing
/// before the ledger exists: a plan on MySQL does not create it).
pub async fn owners(tx: &mut Transaction) -> Result<BTreeMap<String, String>> {
    if !table_exists_in(tx, "wasmig_objects").await? {
        return Ok(BTreeMap::new());
    }
    let rows = tx
        .query("SELECT name, module FROM wasmig_objects", &[])
        .await?;
    decode_all("wasmig_objects", rows, |c| Ok((c.parsed()?, c.parsed()?)))
        .map(|pairs| pairs.into_iter().collect())
}

/// How many names modules hold (see [`owners`]): with SQLite's schema version, it tells
/// whether the holders read before are still the database's (a module forgotten without
/// dropping anything changes no schema).
pub async fn owners_count(tx: &mut Transaction) -> Result<i64> {
    if !table_exists_in(tx, "wasmig_objects").await? {
        return Ok(0);
    }
    let rows = tx.query("SELECT COUNT(*) FROM wasmig_objects", &[]).await?;
    Ok(first_count(&rows))
}

/// The names each module holds (lower-case), from the ledger's record of what they created.
pub async fn held_names(db: &Database) -> Result<BTreeMap<String, BTreeSet<String>>> {
    if !table_exists(db, "wasmig_objects").await? {
        return Ok(BTreeMap::new());
    }
    let rows = db
        .query("SELECT module, name FROM wasmig_objects", &[])
        .await?;
    let pairs: Vec<(String, String)> =
        decode_all("wasmig_objects", rows, |c| Ok((c.parsed()?, c.parsed()?)))?;
    let mut held: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, name) in pairs {
        held.entry(module).or_default().insert(name.to_lowercase());
    }
    Ok(held)
}

/// A module's schema as its last upgrade left it: its fingerprint and its objects (JSON, see
/// `wasmig-schema`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedSchema {
    /// The digest of the objects.
    pub fingerprint: String,
    /// The objects, `kind name` → description, as JSON.
    pub objects: String,
    /// When it was recorded.
    pub recorded_at: String,
    /// Where the module's steps stand now and stood at the recording (read back only; the
    /// recording takes its own from the ledger).
    pub steps: RecordedSteps,
}

/// The module's last history row of a step that changed its schema (applied, or covered by
/// its install): the newest when its schema was recorded, and the newest now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordedSteps {
    /// The row's id when the schema was recorded (`None` in records made before wasmig kept
    /// it, or when no step had run).
    pub at_recording: Option<i64>,
    /// The newest such row's id now.
    pub now: Option<i64>,
    /// When the newest such row's step finished (for records without `at_recording`).
    pub now_finished_at: Option<String>,
}

impl RecordedSchema {
    /// Whether a step was recorded in the history after the schema was (a process stopped
    /// between a step's commit and the recording): the record does not describe what the
    /// steps left, so a difference from it is not a change made by hand. Told by history row
    /// ids, whatever the clocks of the hosts that wrote them; a record older than those ids
    /// falls back to comparing times.
    pub fn is_stale(&self) -> bool {
        let steps = &self.steps;
        match steps.at_recording {
            Some(recorded) => steps.now.is_some_and(|now| now > recorded),
            None => steps
                .now_finished_at
                .as_ref()
                .is_some_and(|at| *at > self.recorded_at),
        }
    }
}

/// History rows of steps that changed a module's schema: applied, or covered by its install.
const SCHEMA_STEPS: &str = "outcome IN ('applied', 'covered')";

/// The schema recorded for each module (none before a module's first upgrade that recorded
/// one).
pub async fn recorded_schemas(db: &Database) -> Result<BTreeMap<String, RecordedSchema>> {
    if !table_exists(db, "wasmig_schemas").await? {
        return Ok(BTreeMap::new());
    }
    let rows = db
        .query(
            &format!(
                "SELECT s.module, s.fingerprint, s.objects, s.recorded_at, s.last_step_id, \
                 h.last_id, h.last_at FROM wasmig_schemas s LEFT JOIN (SELECT module, \
                 MAX(id) AS last_id, MAX(finished_at) AS last_at FROM wasmig_history \
                 WHERE {SCHEMA_STEPS} GROUP BY module) h ON h.module = s.module"
            ),
            &[],
        )
        .await?;
    let recorded = decode_all("wasmig_schemas", rows, |c| {
        Ok((
            c.parsed()?,
            RecordedSchema {
                fingerprint: c.parsed()?,
                objects: c.parsed()?,
                recorded_at: c.parsed()?,
                steps: RecordedSteps {
                    at_recording: c.optional_integer()?,
                    now: c.optional_integer()?,
                    now_finished_at: c.optional_text()?,
                },
            },
        ))
    })?;
    Ok(recorded.into_iter().collect())
}

/// Each module's recorded schema fingerprint (what [`recorded_schemas`] reads, without the
/// objects).
pub async fn recorded_fingerprints(db: &Database) -> Result<BTreeMap<String, String>> {
    if !table_exists(db, "wasmig_schemas").await? {
        return Ok(BTreeMap::new());
    }
    let rows = db
        .query("SELECT module, fingerprint FROM wasmig_schemas", &[])
        .await?;
    let pairs = decode_all("wasmig_schemas", rows, |c| Ok((c.parsed()?, c.parsed()?)))?;
    Ok(pairs.into_iter().collect())
}

/// The state (a digest the engine makes of the schema's text, the owners and the recorded
/// fingerprints) in which every module's live schema was last found to match its
/// record; `None` when no such state is kept.
pub async fn settled_schema(db: &Database) -> Result<Option<String>> {
    if !table_exists(db, "wasmig_settled_schema").await? {
        return Ok(None);
    }
    let rows = db
        .query("SELECT state FROM wasmig_settled_schema WHERE id = 1", &[])
        .await?;
    let states = decode_all("wasmig_settled_schema", rows, |c| c.parsed())?;
    Ok(states.into_iter().next())
}

/// Keeps `state` as the one in which no module's schema drifted (see [`settled_schema`]), or
/// forgets the one kept.
pub async fn set_settled_schema(db: &Database, state: Option<&str>) -> Result<()> {
    let mut tx = db.begin().await?;
    tx.execute("DELETE FROM wasmig_settled_schema", &[]).await?;
    if let Some(state) = state {
        let insert = placeholders(
            tx.dialect(),
            "INSERT INTO wasmig_settled_schema (id, state) VALUES (1, ?)",
        );
        tx.execute(&insert, &[state.into()]).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Records each `(module, schema)`, replacing the one recorded before, in one transaction.
pub async fn record_schemas(db: &Database, schemas: &[(&str, RecordedSchema)]) -> Result<()> {
    let mut tx = db.begin().await?;
    let delete = placeholders(tx.dialect(), "DELETE FROM wasmig_schemas WHERE module = ?");
    let insert = placeholders(
        tx.dialect(),
        &format!(
            "INSERT INTO wasmig_schemas (module, fingerprint, objects, recorded_at, \
             last_step_id) VALUES (?, ?, ?, ?, (SELECT MAX(id) FROM wasmig_history \
             WHERE module = ? AND {SCHEMA_STEPS}))"
        ),
    );
    for (module, schema) in schemas {
        tx.execute(&delete, &[(*module).into()]).await?;
        let values = [
            (*module).into(),
            schema.fingerprint.as_str().into(),
            schema.objects.as_str().into(),
            schema.recorded_at.as_str().into(),
            (*module).into(),
        ];
        tx.execute(&insert, &values).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The modules deactivated by an operator (upgrades leave them alone).
pub async fn inactive(db: &Database) -> Result<BTreeSet<String>> {
    if !table_exists(db, "wasmig_inactive").await? {
        return Ok(BTreeSet::new());
    }
    let rows = db.query("SELECT module FROM wasmig_inactive", &[]).await?;
    decode_all("wasmig_inactive", rows, |c| c.parsed()).map(|names| names.into_iter().collect())
}

/// Marks `module` active (upgrades run it) or inactive (they leave it alone).
pub async fn set_active(tx: &mut Transaction, module: &str, active: bool) -> Result<()> {
    tx.execute(
        &placeholders(tx.dialect(), "DELETE FROM wasmig_inactive WHERE module = ?"),
        &[module.into()],
    )
    .await?;
    if !active {
        tx.execute(
            &placeholders(
                tx.dialect(),
                "INSERT INTO wasmig_inactive (module, since) VALUES (?, ?)",
            ),
            &[module.into(), timestamp(SystemTime::now()).into()],
        )
        .await?;
    }
    Ok(())
}

/// Forgets an uninstalled module: its row, the objects it owned and its journal. Its history
/// stays.
pub async fn forget_module(tx: &mut Transaction, module: &str) -> Result<()> {
    for table in [
        "wasmig_modules",
        "wasmig_objects",
        "wasmig_journal",
        "wasmig_schemas",
    ] {
        tx.execute(
            &placeholders(
                tx.dialect(),
                &format!("DELETE FROM {table} WHERE module = ?"),
            ),
            &[module.into()],
        )
        .await?;
    }
    Ok(())
}

/// Since when, and why, the database is under maintenance (`None` when it is not). Reads
/// only: a database without a ledger is not under maintenance.
pub async fn maintenance(db: &Database) -> Result<Option<(String, String)>> {
    if !table_exists(db, "wasmig_maintenance").await? {
        return Ok(None);
    }
    let rows = db
        .query("SELECT since, reason FROM wasmig_maintenance", &[])
        .await?;
    Ok(decode_all("wasmig_maintenance", rows, |c| {
        Ok((c.parsed()?, c.parsed()?))
    })?
    .into_iter()
    .next())
}

/// Sets (with a reason) or clears the maintenance flag.
pub async fn set_maintenance(db: &Database, reason: Option<&str>) -> Result<()> {
    match reason {
        Some(reason) => raise_maintenance(db, reason).await.map(drop),
        None => lower_maintenance(db, None).await,
    }
}

/// Sets the maintenance flag with `reason`; returns the time it records, which
/// [`lower_maintenance`] takes to clear this flag and no later one.
pub async fn raise_maintenance(db: &Database, reason: &str) -> Result<String> {
    let since = timestamp(SystemTime::now());
    let mut tx = db.begin().await?;
    tx.execute("DELETE FROM wasmig_maintenance", &[]).await?;
    tx.execute(
        &placeholders(
            tx.dialect(),
            "INSERT INTO wasmig_maintenance (id, since, reason) VALUES (1, ?, ?)",
        ),
        &[since.clone().into(), reason.into()],
    )
    .await?;
    tx.commit().await?;
    Ok(since)
}

/// Clears the maintenance flag: the one raised at `since` (see [`raise_maintenance`]), or
/// (`None`) whichever is set.
pub async fn lower_maintenance(db: &Database, since: Option<&str>) -> Result<()> {
    match since {
        Some(since) => {
            let sql = placeholders(
                db.dialect(),
                "DELETE FROM wasmig_maintenance WHERE since = ?",
            );
            db.execute(&sql, &[since.into()]).await?;
        }
        None => {
            db.execute("DELETE FROM wasmig_maintenance", &[]).await?;
        }
    }
    Ok(())
}

/// The objects `module` owns, as (name, kind: `table`, `view`, `index` or `trigger`).
pub async fn objects_of(tx: &mut Transaction, module: &str) -> Result<Vec<(String, String)>> {
    let rows = tx
        .query(
            &placeholders(
                tx.dialect(),
                "SELECT name, kind FROM wasmig_objects WHERE module = ? ORDER BY name",
            ),
            &[module.into()],
        )
        .await?;
    decode_all("wasmig_objects", rows, |c| Ok((c.parsed()?, c.parsed()?)))
}

/// Records that `module` owns `name` (a table, view, index or trigger of `kind`).
pub async fn claim(tx: &mut Transaction, module: &str, name: &str, kind: &str) -> Result<()> {
    release(tx, name).await?;
    tx.execute(
        &placeholders(
            tx.dialect(),
            "INSERT INTO wasmig_objects (name, module, kind) VALUES (?, ?, ?)",
        ),
        &[name.into(), module.into(), kind.into()],
    )
    .await?;
    Ok(())
}

/// Forgets who owns `name`.
pub async fn release(tx: &mut Transaction, name: &str) -> Result<()> {
    tx.execute(
        &placeholders(tx.dialect(), "DELETE FROM wasmig_objects WHERE name = ?"),
        &[name.into()],
    )
    .await?;
    Ok(())
}

/// Keeps `name` reserved to its module once the object is dropped: no other module may take
/// the name (the module's next steps, or another module's data, may still refer to it).
pub async fn keep_reserved(tx: &mut Transaction, name: &str) -> Result<()> {
    tx.execute(
        &placeholders(
            tx.dialect(),
            "UPDATE wasmig_objects SET kind = 'dropped' WHERE name = ?",
        ),
        &[name.into()],
    )
    .await?;
    Ok(())
}

/// Moves ownership from `from` to `to`, as a rename does.
pub async fn rename(tx: &mut Transaction, from: &str, to: &str) -> Result<()> {
    release(tx, to).await?;
    tx.execute(
        &placeholders(
            tx.dialect(),
            "UPDATE wasmig_objects SET name = ? WHERE name = ?",
        ),
        &[to.into(), from.into()],
    )
    .await?;
    Ok(())
}

fn decode_all<T>(
    table: &'static str,
    rows: RowSet,
    decode: fn(&mut Columns<'_>) -> Result<T, String>,
) -> Result<Vec<T>> {
    rows.rows
        .iter()
        .map(|row| decode(&mut Columns::new(&rows.columns, row)))
        .collect::<Result<_, _>>()
        .map_err(|message| Error::Corrupt { table, message })
}

/// Reads the columns of one row in order, each with its own conversion.
struct Columns<'r> {
    names: std::slice::Iter<'r, String>,
    values: std::slice::Iter<'r, Value>,
}

impl<'r> Columns<'r> {
    fn new(names: &'r [String], values: &'r [Value]) -> Self {
        Columns {
            names: names.iter(),
            values: values.iter(),
        }
    }

    fn next(&mut self) -> (&'r str, &'r Value) {
        let name = self.names.next().map_or("?", String::as_str);
        (name, self.values.next().unwrap_or(&Value::Null))
    }

    fn optional_text(&mut self) -> Result<Option<String>, String> {
        match self.next() {
            (_, Value::Null) => Ok(None),
            (_, Value::Text(v)) => Ok(Some(v.clone())),
            (name, other) => Err(format!("`{name}` should be text, found {other:?}")),
        }
    }

    fn optional_integer(&mut self) -> Result<Option<i64>, String> {
        match self.next() {
            (_, Value::Null) => Ok(None),
            (_, Value::Integer(v)) => Ok(Some(*v)),
            (name, other) => Err(format!("`{name}` should be an integer, found {other:?}")),
        }
    }

    fn peek_name(&self) -> &'r str {
        self.names.clone().next().map_or("?", String::as_str)
    }

    fn parsed<T: FromStr<Err: fmt::Display>>(&mut self) -> Result<T, String> {
        let name = self.peek_name();
        self.optional_parsed()?
            .ok_or_else(|| format!("`{name}` is NULL"))
    }

    fn optional_parsed<T: FromStr<Err: fmt::Display>>(&mut self) -> Result<Option<T>, String> {
        let name = self.peek_name();
        match self.optional_text()? {
            None => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|e| format!("`{name}` = `{text}`: {e}")),
        }
    }

    fn integer<T: TryFrom<i64>>(&mut self) -> Result<T, String> {
        match self.next() {
            (name, Value::Integer(v)) => {
                T::try_from(*v).map_err(|_| format!("`{name}` is out of range: {v}"))
            }
            (name, other) => Err(format!("`{name}` should be an integer, found {other:?}")),
        }
    }
}

fn decode_module(c: &mut Columns<'_>) -> Result<ModuleRecord, String> {
    Ok(ModuleRecord {
        module: c.parsed()?,
        version: c.optional_parsed()?,
        last_step: c.integer()?,
        status: c.parsed()?,
        installed_at: c.parsed()?,
        updated_at: c.parsed()?,
    })
}

fn decode_history(c: &mut Columns<'_>) -> Result<HistoryEntry, String> {
    Ok(HistoryEntry {
        module: c.parsed()?,
        kind: c.parsed()?,
        step: c.integer()?,
        slug: c.parsed()?,
        sha256: c.parsed()?,
        version: c.parsed()?,
        started_at: c.parsed()?,
        finished_at: c.parsed()?,
        duration_ms: c.integer()?,
        outcome: c.parsed()?,
        error: c.optional_text()?,
    })
}

macro_rules! text_enum {
    ($t:ty { $($variant:ident = $text:literal),+ $(,)? }) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(match self { $(Self::$variant => $text),+ })
            }
        }

        impl FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    other => Err(format!("unknown value `{other}`")),
                }
            }
        }
    };
}

text_enum!(ModuleStatus {
    Ok = "ok",
    Failed = "failed",
    Running = "running",
    Dirty = "dirty",
});
text_enum!(EntryKind {
    Step = "step",
    Install = "install",
    Uninstall = "uninstall",
    Restore = "restore",
    Drift = "drift",
});
text_enum!(Outcome {
    Applied = "applied",
    Covered = "covered",
    Failed = "failed",
    Running = "running",
    Interrupted = "interrupted",
    Accepted = "accepted",
    Restored = "restored",
});

#[cfg(test)]
mod tests {
    use super::*;

    fn module(version: Option<&str>, last_step: u32, status: ModuleStatus) -> ModuleRecord {
        ModuleRecord {
            module: "blog".into(),
            version: version.map(|v| v.parse().unwrap()),
            last_step,
            status,
            installed_at: "2026-01-01T00:00:00.000Z".into(),
            updated_at: timestamp(SystemTime::now()),
        }
    }

    #[tokio::test]
    async fn the_ledger_is_created_once_and_round_trips_its_rows() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        assert!(!exists(&db).await.unwrap());
        ensure_schema(&db).await.unwrap();
        ensure_schema(&db).await.unwrap();
        assert!(exists(&db).await.unwrap());

        let mut tx = db.begin().await.unwrap();
        save_module(&mut tx, &module(None, 1, ModuleStatus::Failed))
            .await
            .unwrap();
        let updated = module(Some("1.2.0"), 3, ModuleStatus::Ok);
        save_module(&mut tx, &updated).await.unwrap();
        let entry = HistoryEntry {
            module: "blog".into(),
            kind: EntryKind::Step,
            step: 2,
            slug: "add_status".into(),
            sha256: "ab".repeat(32),
            version: "1.2.0".parse().unwrap(),
            started_at: timestamp(SystemTime::now()),
            finished_at: timestamp(SystemTime::now()),
            duration_ms: 12,
            outcome: Outcome::Failed,
            error: Some("boom".into()),
        };
        record(&mut tx, &entry).await.unwrap();
        tx.commit().await.unwrap();

        assert_eq!(modules(&db).await.unwrap(), [updated]);
        assert_eq!(
            history(&db, Some("blog")).await.unwrap(),
            std::slice::from_ref(&entry)
        );
        assert!(history(&db, Some("other")).await.unwrap().is_empty());
        assert_eq!(entry.step_name(), "002_add_status");
    }

    #[tokio::test]
    async fn an_older_history_gets_its_kinds_derived_then_stored() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        // The history as wasmig 0.1 created it: install, uninstall and restore were step 0.
        db.execute(
            "CREATE TABLE wasmig_history (id INTEGER PRIMARY KEY AUTOINCREMENT, \
             module VARCHAR(63) NOT NULL, step INTEGER NOT NULL, slug VARCHAR(255) NOT NULL, \
             sha256 CHAR(64) NOT NULL, version VARCHAR(255) NOT NULL, \
             started_at VARCHAR(32) NOT NULL, finished_at VARCHAR(32) NOT NULL, \
             duration_ms BIGINT NOT NULL, outcome VARCHAR(16) NOT NULL, error TEXT)",
            &[],
        )
        .await
        .unwrap();
        for (step, slug) in [
            (0, "install"),
            (2, "add_status"),
            (0, "uninstall"),
            (0, "restore"),
        ] {
            db.execute(
                "INSERT INTO wasmig_history (module, step, slug, sha256, version, started_at, \
                 finished_at, duration_ms, outcome) VALUES ('blog', ?, ?, '', '1.0.0', 't', \
                 't', 0, 'applied')",
                &[i64::from(step).into(), slug.into()],
            )
            .await
            .unwrap();
        }
        let expected = [
            (EntryKind::Install, "install"),
            (EntryKind::Step, "002_add_status"),
            (EntryKind::Uninstall, "uninstall"),
            (EntryKind::Restore, "restore"),
        ];
        let kinds = |entries: Vec<HistoryEntry>| -> Vec<(EntryKind, String)> {
            entries.iter().map(|e| (e.kind, e.step_name())).collect()
        };
        let wanted: Vec<(EntryKind, String)> = expected
            .iter()
            .map(|(k, n)| (*k, (*n).to_owned()))
            .collect();
        // Read before any upgrade (reading changes nothing): derived.
        assert_eq!(kinds(history(&db, None).await.unwrap()), wanted);
        ensure_schema(&db).await.unwrap();
        assert!(
            column_exists(&mut db.begin().await.unwrap(), "wasmig_history", "kind")
                .await
                .unwrap()
        );
        // Upgraded: stored, and new rows say their own kind.
        assert_eq!(kinds(history(&db, Some("blog")).await.unwrap()), wanted);
    }

    #[tokio::test]
    async fn an_older_journal_gains_its_intent_column_and_intents_round_trip() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        // The journal as wasmig 0.1 created it.
        db.execute(
            "CREATE TABLE wasmig_journal (module VARCHAR(63) NOT NULL, step INTEGER NOT NULL, \
             position INTEGER NOT NULL, sha256 CHAR(64) NOT NULL, statement TEXT NOT NULL, \
             rows_affected BIGINT NOT NULL, result TEXT, PRIMARY KEY (module, step, position))",
            &[],
        )
        .await
        .unwrap();
        ensure_schema(&db).await.unwrap();
        let entry = JournalEntry {
            position: 3,
            sha256: "a".repeat(64),
            statement: "ALTER TABLE t ADD COLUMN c INT".into(),
            rows_affected: 0,
            rows: None,
            intent: Some(Intent {
                touched: vec!["t".into()],
                fingerprint: "column t.a".into(),
            }),
        };
        let mut tx = db.begin().await.unwrap();
        journal_write(&mut tx, "blog", 2, std::slice::from_ref(&entry))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(journal(&db, "blog", 2).await.unwrap(), vec![entry]);
        let mut tx = db.begin().await.unwrap();
        journal_settle(&mut tx, "blog", 2, 3, Some(1))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let settled = journal(&db, "blog", 2).await.unwrap();
        assert_eq!(
            (settled[0].intent.clone(), settled[0].rows_affected),
            (None, 1)
        );
        let mut tx = db.begin().await.unwrap();
        journal_settle(&mut tx, "blog", 2, 3, None).await.unwrap();
        tx.commit().await.unwrap();
        assert!(journal(&db, "blog", 2).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_row_this_version_cannot_read_is_reported_as_corrupt() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        ensure_schema(&db).await.unwrap();
        db.execute(
            "INSERT INTO wasmig_modules VALUES ('blog', 'not-semver', 1, 'ok', 'a', 'b')",
            &[],
        )
        .await
        .unwrap();
        let error = modules(&db).await.unwrap_err().to_string();
        assert!(
            error.contains("corrupt row in wasmig_modules: `version` = `not-semver`"),
            "{error}"
        );
    }
}
