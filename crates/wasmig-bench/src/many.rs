//! Costs that must not grow with the database: many modules, many steps.

use std::path::Path;
use std::time::{Duration, Instant};

use wasmig_engine::{Host, Settings};

use crate::report::{Report, median};
use crate::scenario::{row, upgrade, write_module};
use crate::scratch::Server;

/// Writes `modules` SQL modules of `steps` steps each into `dir`.
fn write_modules(dir: &Path, modules: usize, steps: usize) -> anyhow::Result<()> {
    for m in 0..modules {
        let name = format!("m{m:04}");
        let files: Vec<(String, Vec<u8>)> = (1..=steps)
            .map(|s| {
                let sql = if s == 1 {
                    format!("CREATE TABLE {name}_items (id INTEGER PRIMARY KEY, step INTEGER)")
                } else {
                    format!("INSERT INTO {name}_items (step) VALUES ({s})")
                };
                (format!("{s:03}_step.sql"), sql.into_bytes())
            })
            .collect();
        write_module(dir, &name, &files)?;
    }
    Ok(())
}

/// A fresh install of `modules` modules of three SQL steps: the time per step.
async fn install_per_step(server: &Server, modules: usize) -> anyhow::Result<Duration> {
    let dir = tempfile::tempdir()?;
    write_modules(dir.path(), modules, 3)?;
    let (total, _) = upgrade(server, dir.path(), None).await?;
    Ok(total / u32::try_from(modules * 3).unwrap_or(u32::MAX))
}

/// `status` over `modules` installed modules, drift included (median of `rounds`).
async fn status_over(server: &Server, modules: usize, rounds: usize) -> anyhow::Result<Duration> {
    let dir = tempfile::tempdir()?;
    write_modules(dir.path(), modules, 1)?;
    let scratch = server.scratch().await?;
    let host = Host::open_with(&scratch.url, dir.path(), Settings::default()).await?;
    anyhow::ensure!(
        host.upgrade(&[], |_| {}).await?.is_success(),
        "the install failed"
    );
    let mut times = Vec::new();
    for _ in 0..rounds.max(1) {
        // What `wasmig status` asks: the plans, and which modules drifted.
        let start = Instant::now();
        host.status().await?;
        host.drift().await?;
        times.push(start.elapsed());
    }
    host.database().close().await;
    drop(host);
    scratch.drop_database().await?;
    Ok(median(times))
}

/// 3,000 SQL steps over 1,000 modules beside 300 over 100 (per step), and `status` over 1,000
/// modules beside none.
pub async fn many_modules(
    server: &Server,
    rounds: usize,
    report: &mut Report,
) -> anyhow::Result<()> {
    let work = "3,000 SQL steps over 1,000 modules, per step";
    if report.wants(work) {
        let mut many = Vec::new();
        let mut few = Vec::new();
        for _ in 0..rounds.clamp(1, 3) {
            many.push(install_per_step(server, 1000).await?);
            few.push(install_per_step(server, 100).await?);
        }
        report.add(row(
            work,
            server,
            median(many),
            "300 over 100 modules",
            median(few),
        ));
    }
    let work = "status over 1,000 modules";
    if report.wants(work) {
        let many = status_over(server, 1000, rounds).await?;
        let none = status_over(server, 0, rounds).await?;
        report.add(row(work, server, many, "status over 0 modules", none));
    }
    Ok(())
}
