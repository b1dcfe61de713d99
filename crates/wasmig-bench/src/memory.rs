//! Peak memory of a step reading a million rows (through a cursor, and with one `query`),
//! beside the `sqlite3` client scanning the same rows. Each upgrade runs in a child process
//! of its own (this binary, see [`child_upgrade`]), whose peak resident memory the kernel
//! reports when it ends: host and guest together.

use std::path::Path;
use std::process::{Command, Stdio};

use wasmig_engine::{ComponentCache, Host, Limits, Settings};

use crate::report::{Figure, Report, Row, median};
use crate::scenario::write_module;

/// Rows the step reads.
const ROWS: u32 = 1_000_000;

/// The work this module measures.
pub const WORK: &str = "step reading 1M rows";

/// The figures of the scan: the cursor beside the `sqlite3` client and beside one `query`.
pub async fn scans(scan: &[u8], rounds: usize, report: &mut Report) -> anyhow::Result<()> {
    if !report.wants(WORK) {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let filled = dir.path().join("filled.db");
    let modules = dir.path().join("modules");
    write_module(&modules, "scan", &[("001_fill.sql".into(), fill_sql())])?;
    let url = |path: &Path| format!("sqlite://{}", path.display());
    let host = Host::open_with(&url(&filled), &modules, Settings::default()).await?;
    let filling = host.upgrade(&[], |_| {}).await?;
    anyhow::ensure!(
        filling.is_success(),
        "filling the table failed: {filling:?}"
    );
    host.database().close().await;
    let cache = dir.path().join("cache");
    let peak = |step: &str| -> anyhow::Result<u64> {
        std::fs::remove_dir_all(modules.join("scan"))?;
        write_module(
            &modules,
            "scan",
            &[
                ("001_fill.sql".into(), fill_sql()),
                (step.into(), scan.to_vec()),
            ],
        )?;
        let toml = modules.join("scan/module.toml");
        std::fs::write(
            &toml,
            std::fs::read_to_string(&toml)?.replace("1.0.0", "1.1.0"),
        )?;
        let mut peaks = Vec::new();
        // The first run compiles the component into the cache: not counted.
        for round in 0..=rounds.clamp(1, 3) {
            let db = dir.path().join("run.db");
            std::fs::copy(&filled, &db)?;
            let peak = peak_rss(
                Command::new(std::env::current_exe()?)
                    .arg("--child-upgrade")
                    .args([
                        url(&db),
                        modules.display().to_string(),
                        cache.display().to_string(),
                    ]),
            )?;
            if round > 0 {
                peaks.push(peak);
            }
        }
        Ok(median(peaks))
    };
    let cursor = peak("002_scan.wasm")?;
    let whole = peak("002_scan_whole.wasm")?;
    if report.ours_only {
        eprintln!("{WORK}: cursor {cursor} B, query {whole} B");
        return Ok(());
    }
    let select = "SELECT id, name, n FROM scan_items";
    match peak_rss(Command::new("sqlite3").arg(&filled).arg(select)) {
        Ok(client) => report.add(memory_row(
            "cursor, peak memory",
            cursor,
            "sqlite3 client scan",
            client,
        )),
        Err(error) => eprintln!("{WORK}: no sqlite3 client baseline: {error:#}"),
    }
    report.add(memory_row(
        "one query, peak memory",
        whole,
        "the cursor",
        cursor,
    ));
    Ok(())
}

/// The one SQL step that fills `scan_items` with [`ROWS`] rows.
fn fill_sql() -> Vec<u8> {
    format!(
        "CREATE TABLE scan_items (id INTEGER PRIMARY KEY, name TEXT, n INTEGER);\n\
         WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {ROWS}) \
         INSERT INTO scan_items (id, name, n) SELECT x, 'row ' || x, x % 97 FROM c;\n"
    )
    .into_bytes()
}

fn memory_row(how: &str, ours: u64, baseline: &str, theirs: u64) -> Row {
    Row {
        work: format!("{WORK}, {how}"),
        backend: "sqlite",
        ours: Figure::Memory(ours),
        baseline: baseline.to_owned(),
        theirs: Figure::Memory(theirs),
    }
}

/// Runs `command` (its output discarded) and returns its peak resident memory in bytes.
fn peak_rss(command: &mut Command) -> anyhow::Result<u64> {
    let child = command.stdout(Stdio::null()).spawn()?;
    let pid = libc::pid_t::try_from(child.id())?;
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is a valid value for the kernel to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not waited for yet; the pointers are valid for the call.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    anyhow::ensure!(waited == pid, "waiting for {command:?} failed");
    anyhow::ensure!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{command:?} failed (status {status})"
    );
    // Linux reports kibibytes.
    Ok(u64::try_from(usage.ru_maxrss)? * 1024)
}

/// The child's side: upgrades the modules in `modules` on `url` with components cached in
/// `cache`, and fails unless every step succeeds. The step's row limit (a million rows by
/// default, all queries together) is raised to let it read the million rows and count them.
pub async fn child_upgrade(url: &str, modules: &str, cache: &str) -> anyhow::Result<()> {
    let settings = Settings {
        component_cache: Some(ComponentCache::open(cache)?),
        limits: Limits {
            rows: 2 * u64::from(ROWS),
            ..Limits::default()
        },
        ..Settings::default()
    };
    let host = Host::open_with(url, Path::new(modules), settings).await?;
    let report = host.upgrade(&[], |_| {}).await?;
    anyhow::ensure!(report.is_success(), "the scan failed: {report:?}");
    Ok(())
}
