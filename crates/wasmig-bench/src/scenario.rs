//! The work measured: data steps, long chains of steps, and their baselines.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use wasmig_engine::{ComponentCache, Event, Host, Settings};

use crate::baseline;
use crate::report::{Figure, Report, Row, median};
use crate::scratch::Server;

/// Steps in a chain.
const CHAIN: usize = 200;

/// The bench components' bytes.
pub struct Components {
    rows_execute: Vec<u8>,
    rows_batch: Vec<u8>,
    step: Vec<u8>,
    scan: Vec<u8>,
}

impl Components {
    /// Builds the plugins workspace at `manifest` and reads the bench components.
    pub fn build(manifest: &Path) -> anyhow::Result<Self> {
        let built = wasmig_build::build_workspace(manifest)?;
        let root = manifest.parent().unwrap_or(Path::new("."));
        let read = |dir: &str| -> anyhow::Result<Vec<u8>> {
            let key = root.join(dir).canonicalize()?;
            let path: &PathBuf = built
                .get(&key)
                .ok_or_else(|| anyhow::anyhow!("{dir} produced no component"))?;
            Ok(std::fs::read(path)?)
        };
        Ok(Components {
            rows_execute: read("bench/rows_execute")?,
            rows_batch: read("bench/rows_batch")?,
            step: read("bench/step")?,
            scan: read("bench/scan")?,
        })
    }
}

/// Every figure for `server`'s backend.
pub async fn run_all(
    server: &Server,
    components: &Components,
    rounds: usize,
    report: &mut Report,
) -> anyhow::Result<()> {
    let cache_dir = tempfile::tempdir()?;
    let cache = ComponentCache::open(cache_dir.path().join("cache"))?;
    data_steps(server, components, rounds, &cache, report).await?;
    if server.is_sqlite() {
        chains(server, components, rounds, &cache, report).await?;
        crate::many::many_modules(server, rounds, report).await?;
        crate::memory::scans(&components.scan, rounds, report).await?;
    }
    Ok(())
}

/// A step inserting 10k rows, per row and in one batch, beside native sqlx and the fastest
/// way the database has.
async fn data_steps(
    server: &Server,
    components: &Components,
    rounds: usize,
    cache: &ComponentCache,
    report: &mut Report,
) -> anyhow::Result<()> {
    let cases = [
        (
            "10k-row data step, execute per row",
            &components.rows_execute,
        ),
        ("10k-row data step, execute_batch", &components.rows_batch),
    ];
    for (work, component) in cases {
        if !report.wants(work) {
            continue;
        }
        let modules = tempfile::tempdir()?;
        write_module(
            modules.path(),
            "bench",
            &[("001_rows.wasm".into(), component.clone())],
        )?;
        let step = || async {
            let (_, step_time) = upgrade(server, modules.path(), Some(cache.clone())).await?;
            Ok(step_time)
        };
        if report.ours_only {
            let ours = measure(rounds, step).await?;
            eprintln!("{work} [{}]: {ours:?}", server.name);
            continue;
        }
        // The database's fastest path by turns with the step, so that a disk or a server that
        // slows down meanwhile weighs on both alike. The baseline's time includes its COMMIT;
        // the step's figure is its own time, without the commit that follows it.
        let (name, (ours, fastest)) = match server.name {
            "sqlite" => (
                "C API, one prepared statement",
                by_turns(rounds, step, || {
                    on_scratch(server, baseline::sqlite_c_api_rows)
                })
                .await?,
            ),
            "postgres" => (
                "COPY",
                by_turns(rounds, step, || {
                    on_scratch(server, baseline::postgres_copy_rows)
                })
                .await?,
            ),
            _ => (
                "one multi-row INSERT",
                by_turns(rounds, step, || {
                    on_scratch(server, baseline::mysql_multirow_rows)
                })
                .await?,
            ),
        };
        let sqlx = measure(rounds, || on_scratch(server, baseline::sqlx_rows)).await?;
        report.add(row(work, server, ours, "native sqlx", sqlx));
        report.add(row(work, server, ours, name, fastest));
        let batch = std::ptr::eq(component, &components.rows_batch);
        if let Some((name, same)) = same_statements(server, batch, rounds).await? {
            report.add(row(work, server, ours, name, same));
        }
    }
    Ok(())
}

/// What wasmig sends for a data step on a server, sent by native sqlx: the floor of wasmig's
/// way of sending it, apart from the sandbox and the policy.
async fn same_statements(
    server: &Server,
    batch: bool,
    rounds: usize,
) -> anyhow::Result<Option<(&'static str, Duration)>> {
    let time = match (server.name, batch) {
        ("postgres", true) => (
            "its 1,000-row INSERTs, native sqlx",
            measure(rounds, || {
                on_scratch(server, baseline::postgres_chunked_rows)
            })
            .await?,
        ),
        ("mariadb", _) => {
            let rows = if batch { 1000 } else { 1 };
            let job = |url| baseline::mysql_procedure_rows(url, rows);
            (
                "its procedure calls, native sqlx",
                measure(rounds, || on_scratch(server, job)).await?,
            )
        }
        _ => return Ok(None),
    };
    Ok(Some(time))
}

/// A fresh install of 200 component steps (compiled every run, then from a warm cache) beside
/// 200 SQL steps doing the same, and the SQL steps beside the `sqlite3` client.
async fn chains(
    server: &Server,
    components: &Components,
    rounds: usize,
    cache: &ComponentCache,
    report: &mut Report,
) -> anyhow::Result<()> {
    let sql_modules = tempfile::tempdir()?;
    write_module(sql_modules.path(), "chain", &sql_chain())?;
    let sql = measure(rounds, || async {
        Ok(upgrade(server, sql_modules.path(), None).await?.0)
    })
    .await?;
    let work = "200 component steps, fresh install";
    if report.wants(work) {
        let modules = tempfile::tempdir()?;
        write_module(modules.path(), "chain", &component_chain(&components.step))?;
        let cold = measure(rounds.min(3), || async {
            Ok(upgrade(server, modules.path(), None).await?.0)
        })
        .await?;
        report.add(row(
            &format!("{work}, no cache"),
            server,
            cold,
            "200 SQL steps",
            sql,
        ));
        upgrade(server, modules.path(), Some(cache.clone())).await?;
        let warm = measure(rounds, || async {
            Ok(upgrade(server, modules.path(), Some(cache.clone()))
                .await?
                .0)
        })
        .await?;
        report.add(row(
            &format!("{work}, cached"),
            server,
            warm,
            "200 SQL steps",
            sql,
        ));
        let planned = measure(rounds, || async {
            plan(server, modules.path(), cache.clone()).await
        })
        .await?;
        report.add(row(
            "plan of 200 component steps, cached",
            server,
            planned,
            "their upgrade",
            warm,
        ));
    }
    let work = "200 SQL steps, fresh install";
    if report.wants(work) {
        let statements: Vec<String> = sql_chain()
            .into_iter()
            .map(|(_, text)| String::from_utf8_lossy(&text).trim().to_owned())
            .collect();
        let chain = || async { Ok(upgrade(server, sql_modules.path(), None).await?.0) };
        let client = || async {
            let scratch = server.scratch().await?;
            let time = baseline::sqlite3_client(&scratch.url, &statements)?;
            scratch.drop_database().await?;
            time.ok_or_else(|| anyhow::anyhow!("no sqlite3 client"))
        };
        match by_turns(rounds, chain, client).await {
            Ok((sql, client)) => report.add(row(work, server, sql, "sqlite3 client", client)),
            Err(error) => eprintln!("{work}: no baseline: {error:#}"),
        }
    }
    Ok(())
}

/// `CHAIN` SQL steps: the first creates the table, each inserts its name.
fn sql_chain() -> Vec<(String, Vec<u8>)> {
    (1..=CHAIN)
        .map(|n| {
            let mut sql = String::new();
            if n == 1 {
                sql.push_str("CREATE TABLE chain_steps (step VARCHAR(100));\n");
            }
            sql.push_str(&format!(
                "INSERT INTO chain_steps (step) VALUES ('{n:03}_step')\n"
            ));
            (format!("{n:03}_step.sql"), sql.into_bytes())
        })
        .collect()
}

/// `CHAIN` component steps, each a distinct file (the same code with a custom section naming
/// its number), so that each is compiled and cached on its own.
fn component_chain(component: &[u8]) -> Vec<(String, Vec<u8>)> {
    (1..=CHAIN)
        .map(|n| {
            let mut bytes = component.to_vec();
            let name = b"wasmig-bench";
            let payload = n.to_string();
            let size = 1 + name.len() + payload.len();
            bytes.push(0);
            bytes.push(u8::try_from(size).expect("a short section"));
            bytes.push(u8::try_from(name.len()).expect("a short name"));
            bytes.extend_from_slice(name);
            bytes.extend_from_slice(payload.as_bytes());
            (format!("{n:03}_step.wasm"), bytes)
        })
        .collect()
}

/// Writes module `name` (version 1.0.0) with `steps` (file name, contents) into `modules`.
pub fn write_module(modules: &Path, name: &str, steps: &[(String, Vec<u8>)]) -> anyhow::Result<()> {
    let dir = modules.join(name);
    std::fs::create_dir_all(dir.join("migrations"))?;
    std::fs::write(
        dir.join("module.toml"),
        format!("name = \"{name}\"\nversion = \"1.0.0\"\nhost-api = \"^0.1\"\n"),
    )?;
    for (file, bytes) in steps {
        std::fs::write(dir.join("migrations").join(file), bytes)?;
    }
    Ok(())
}

/// Upgrades `modules` on a scratch database of `server`: the whole upgrade's time and the
/// steps' own.
pub async fn upgrade(
    server: &Server,
    modules: &Path,
    cache: Option<ComponentCache>,
) -> anyhow::Result<(Duration, Duration)> {
    let scratch = server.scratch().await?;
    let settings = Settings {
        component_cache: cache,
        ..Settings::default()
    };
    let host = Host::open_with(&scratch.url, modules, settings).await?;
    let mut steps = Duration::ZERO;
    let start = Instant::now();
    let report = host
        .upgrade(&[], |event| {
            if let Event::StepFinished { duration, .. } = event {
                steps += duration;
            }
        })
        .await?;
    let total = start.elapsed();
    anyhow::ensure!(report.is_success(), "the bench upgrade failed: {report:?}");
    host.database().close().await;
    drop(host);
    scratch.drop_database().await?;
    Ok((total, steps))
}

/// `plan` (the dry run: steps run in a transaction rolled back) of the modules in `modules`
/// on a fresh scratch database of `server`, with components from `cache`.
async fn plan(server: &Server, modules: &Path, cache: ComponentCache) -> anyhow::Result<Duration> {
    let scratch = server.scratch().await?;
    let settings = Settings {
        component_cache: Some(cache),
        ..Settings::default()
    };
    let host = Host::open_with(&scratch.url, modules, settings).await?;
    let start = Instant::now();
    let dry_run = host.plan(&[]).await?;
    let total = start.elapsed();
    let failed = dry_run
        .modules
        .iter()
        .flat_map(|m| &m.steps)
        .find(|s| s.error.is_some());
    anyhow::ensure!(failed.is_none(), "the bench plan failed: {failed:?}");
    host.database().close().await;
    drop(host);
    scratch.drop_database().await?;
    Ok(total)
}

/// Runs `job` on a fresh scratch database of `server`.
async fn on_scratch<F, Fut>(server: &Server, job: F) -> anyhow::Result<Duration>
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = anyhow::Result<Duration>>,
{
    let scratch = server.scratch().await?;
    let url = scratch.url.clone();
    let time = job(url).await;
    scratch.drop_database().await?;
    time
}

/// The median of `rounds` runs of `job`.
async fn measure<F, Fut>(rounds: usize, mut job: F) -> anyhow::Result<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Duration>>,
{
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds.max(1) {
        times.push(job().await?);
    }
    Ok(median(times))
}

/// The medians of `ours` and `theirs` run by turns, round after round, so that a machine or
/// a disk that slows down meanwhile weighs on both alike.
async fn by_turns<A, FutA, B, FutB>(
    rounds: usize,
    mut ours: A,
    mut theirs: B,
) -> anyhow::Result<(Duration, Duration)>
where
    A: FnMut() -> FutA,
    FutA: Future<Output = anyhow::Result<Duration>>,
    B: FnMut() -> FutB,
    FutB: Future<Output = anyhow::Result<Duration>>,
{
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..rounds.max(1) {
        a.push(ours().await?);
        b.push(theirs().await?);
    }
    Ok((median(a), median(b)))
}

/// One figure of `server`'s backend.
pub fn row(work: &str, server: &Server, ours: Duration, baseline: &str, theirs: Duration) -> Row {
    Row {
        work: work.to_owned(),
        backend: server.name,
        ours: Figure::Time(ours),
        baseline: baseline.to_owned(),
        theirs: Figure::Time(theirs),
    }
}
