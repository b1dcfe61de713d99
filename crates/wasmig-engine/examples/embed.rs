//! A host application embedding wasmig: it builds the example module, then opens a host over
//! its own connection pool and a modules directory, shows the status and the dry run, upgrades with a
//! progress callback, and deactivates and activates the module.
//!
//! ```sh
//! cargo run -p wasmig-engine --example embed            # a SQLite file in a temporary directory
//! cargo run -p wasmig-engine --example embed -- postgres://postgres@127.0.0.1/test
//! ```

use std::path::Path;

use sqlx::SqlitePool;
use sqlx::sqlite::SqliteConnectOptions;
use wasmig_engine::{Database, Event, FailureKind, Host, Limits, Runtime, UpgradeReport};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scratch = tempfile::tempdir()?;
    let modules = scratch.path().join("modules");
    let blog = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins/blog");
    let package = wasmig_build::build_module(&blog, &modules)?;
    println!(
        "built {} {} into {}",
        package.manifest.name,
        package.manifest.version,
        modules.display()
    );

    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| format!("sqlite://{}", scratch.path().join("app.db").display()));
    let database = if url.starts_with("sqlite:") {
        // The application's own pool: wasmig works through it (the upgrade lock opens one
        // more connection of its own).
        let options: SqliteConnectOptions = url.parse()?;
        let pool = SqlitePool::connect_with(options.create_if_missing(true)).await?;
        Database::from_pool(&url, pool)?
    } else {
        Database::connect(&url).await?
    };
    let mut host = Host::new(database, &modules, Runtime::new(Limits::default())?);
    host.set_maintenance(true);

    for plan in host.status().await? {
        println!(
            "status: {} {:?} pending {:?}",
            plan.module, plan.action, plan.pending
        );
    }
    let dry_run = host.plan(&[]).await?;
    for module in &dry_run.modules {
        for step in &module.steps {
            println!(
                "plan: {} {} sends {} statements",
                module.plan.module,
                step.step,
                step.statements.len()
            );
        }
    }

    let report = host
        .upgrade(&[], |event| match event {
            Event::BackedUp { location } => {
                println!("upgrade: backed up to {}", location.display())
            }
            Event::Module { plan } => println!("upgrade: {} ({:?})", plan.module, plan.action),
            Event::StepStarted { step, .. } => println!("upgrade:   {step} started"),
            Event::StepFinished {
                step,
                duration,
                error,
                ..
            } => {
                println!(
                    "upgrade:   {step} finished in {duration:?}: {}",
                    error.unwrap_or("ok")
                )
            }
            _ => {}
        })
        .await?;
    report_failures(&report);
    println!(
        "under maintenance now: {}",
        host.is_under_maintenance().await?
    );

    host.deactivate("blog").await?;
    println!("deactivated: blog");
    let report = host.activate("blog", |_| {}).await?;
    println!("activated: blog at {:?}", report.modules[0].to);
    if !report.is_success() {
        std::process::exit(1);
    }
    Ok(())
}

/// What went wrong, told apart by kind: a host reacts to a denial (a module that needs a
/// grant, or a hostile one) differently from a refusal (a package to fix) or a guest error.
fn report_failures(report: &UpgradeReport) {
    for failure in report.failures() {
        match &failure.kind {
            FailureKind::Denied { denial } => eprintln!(
                "{}: denied by rule {:?} on {}: {}",
                failure.module,
                denial.rule,
                denial.object.as_deref().unwrap_or("-"),
                denial.statement
            ),
            FailureKind::Refused { refusal } => {
                eprintln!(
                    "{}: refused before running ({})",
                    failure.module,
                    refusal.kind()
                )
            }
            _ => eprintln!("failed: {failure}"),
        }
    }
}
