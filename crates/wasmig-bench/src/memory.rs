//! Peak memory of a step reading a million rows (through a cursor, and with one `query`),
//! beside the `sqlite3` client scanning the same rows. Each upgrade runs in a child process
//! of its own (this binary, see [`child_upgrade`]), whose peak resident memory is read from
//! `/proc` while it runs: host and guest together.

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

/// Runs `command` (its output discarded) and returns its peak resident memory in bytes: the
/// highest `VmHWM` its `/proc/PID/status` shows while it runs, read every millisecond. (The
/// kernel's `ru_maxrss` would not do: a child spawned from this process counts this
/// process's memory from before its `exec`.)
fn peak_rss(command: &mut Command) -> anyhow::Result<u64> {
    let mut child = command.stdout(Stdio::null()).spawn()?;
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    let status = loop {
        if let Ok(status) = std::fs::read_to_string(&status_file) {
            let hwm = status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            peak_kib = peak_kib.max(hwm.unwrap_or(0));
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    };
    anyhow::ensure!(status.success(), "{command:?} failed ({status})");
    Ok(peak_kib * 1024)
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
