//! `wasmig-bench`: each figure of what wasmig costs beside a baseline measured in the same
//! process, for every backend that answers. Run it with `cargo run --release -p wasmig-bench`.

mod baseline;
mod many;
mod memory;
mod report;
mod scenario;
mod scratch;

use std::path::PathBuf;

use clap::Parser;

use crate::report::Report;
use crate::scratch::Server;

/// Measures wasmig beside the database's own costs and prints the ratios (medians of
/// several rounds).
#[derive(Debug, Parser)]
#[command(name = "wasmig-bench")]
struct Args {
    /// Rounds per figure (the median is reported).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// A PostgreSQL database whose server may create scratch databases ("none" to skip).
    #[arg(
        long,
        env = "WASMIG_TEST_POSTGRES",
        default_value = "postgres://postgres@127.0.0.1/test"
    )]
    postgres: String,
    /// A MariaDB/MySQL database whose server may create scratch databases ("none" to skip).
    #[arg(
        long,
        env = "WASMIG_TEST_MYSQL",
        default_value = "mysql://root@127.0.0.1/test"
    )]
    mysql: String,
    /// Only the figures whose work names contain this text.
    #[arg(long)]
    only: Option<String>,
    /// Measures wasmig only and prints no table (to profile it: `perf record … --ours-only`).
    #[arg(long)]
    ours_only: bool,
    /// Internal: upgrades URL MODULES CACHE and exits (the process whose memory is measured).
    #[arg(long, hide = true, num_args = 3, value_names = ["URL", "MODULES", "CACHE"])]
    child_upgrade: Option<Vec<String>>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some([url, modules, cache]) = args.child_upgrade.as_deref() {
        return memory::child_upgrade(url, modules, cache).await;
    }
    let plugins = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../plugins/Cargo.toml");
    eprintln!("building the bench components in {}", plugins.display());
    let components = scenario::Components::build(&plugins)?;
    let mut report = Report::new(args.only.clone(), args.ours_only);
    let mut servers = vec![Server::sqlite()];
    for url in [&args.postgres, &args.mysql] {
        if url == "none" {
            continue;
        }
        match Server::connect(url).await {
            Ok(server) => servers.push(server),
            Err(error) => eprintln!("skipping {url}: {error:#}"),
        }
    }
    for server in &servers {
        scenario::run_all(server, &components, args.rounds, &mut report).await?;
    }
    report.print();
    Ok(())
}
