//! `wasmig_last_job`: the outcome of the last upgrade job a server ran (`wasmig serve`), so
//! that a server started again shows it.

use wasmig_db::{Database, Dialect};

use crate::{Result, decode_all, placeholders, table_exists};

/// The last job a server ran, as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    /// The job's identifier.
    pub id: String,
    /// When it started (RFC 3339, as [`crate::timestamp`] writes it).
    pub started_at: String,
    /// When it ended.
    pub finished_at: String,
    /// How it ended, in one word (`succeeded`, `failed`, `cancelled`).
    pub outcome: String,
    /// Everything else the server shows of it, as the server wrote it (JSON).
    pub detail: String,
}

/// Records `job` as the last job, replacing the one before.
pub async fn record_last_job(db: &Database, job: &JobRecord) -> Result<()> {
    // A report can be long: MySQL's TEXT stops at 64 KiB.
    let detail = match db.dialect() {
        Dialect::MySql => "LONGTEXT",
        Dialect::Sqlite | Dialect::Postgres => "TEXT",
    };
    db.execute(
        &format!(
            "CREATE TABLE IF NOT EXISTS wasmig_last_job (
                id INTEGER NOT NULL PRIMARY KEY,
                job VARCHAR(64) NOT NULL,
                started_at VARCHAR(32) NOT NULL,
                finished_at VARCHAR(32) NOT NULL,
                outcome VARCHAR(16) NOT NULL,
                detail {detail} NOT NULL
            )"
        ),
        &[],
    )
    .await?;
    let mut tx = db.begin().await?;
    tx.execute("DELETE FROM wasmig_last_job", &[]).await?;
    tx.execute(
        &placeholders(
            tx.dialect(),
            "INSERT INTO wasmig_last_job (id, job, started_at, finished_at, outcome, detail) \
             VALUES (1, ?, ?, ?, ?, ?)",
        ),
        &[
            job.id.as_str().into(),
            job.started_at.as_str().into(),
            job.finished_at.as_str().into(),
            job.outcome.as_str().into(),
            job.detail.as_str().into(),
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The last job recorded by [`record_last_job`], if any. Reads only.
pub async fn last_job(db: &Database) -> Result<Option<JobRecord>> {
    if !table_exists(db, "wasmig_last_job").await? {
        return Ok(None);
    }
    let rows = db
        .query(
            "SELECT job, started_at, finished_at, outcome, detail FROM wasmig_last_job",
            &[],
        )
        .await?;
    let jobs = decode_all("wasmig_last_job", rows, |c| {
        Ok(JobRecord {
            id: c.parsed()?,
            started_at: c.parsed()?,
            finished_at: c.parsed()?,
            outcome: c.parsed()?,
            detail: c.parsed()?,
        })
    })?;
    Ok(jobs.into_iter().next())
}
