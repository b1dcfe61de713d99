//! The `wasmig` command line, as a library so that tests can build it under another name.

mod output;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use wasmig_engine::{Event, Host, Limits, Repair};

/// Runs the database migrations of an application's modules as sandboxed WebAssembly components.
///
/// Each module is a directory `<modules>/<name>/` holding `module.toml` (name, version,
/// host-api), an optional `install.wasm` and `migrations/NNN_slug.wasm`. wasmig compares each
/// header with the version recorded in the database's ledger and runs what is pending, each
/// step in its own transaction.
#[derive(Debug, Parser)]
#[command(name = "wasmig", version, max_term_width = 100)]
pub struct Cli {
    /// The database to upgrade: sqlite://FILE (created if missing), sqlite::memory:,
    /// postgres://USER@HOST/DB or mysql://USER@HOST/DB (also mariadb://).
    #[arg(
        long,
        short = 'd',
        global = true,
        env = "DATABASE_URL",
        default_value = "sqlite://wasmig.db",
        value_name = "URL"
    )]
    database: String,

    /// The directory holding one subdirectory per installed module.
    #[arg(
        long,
        short = 'm',
        global = true,
        env = "WASMIG_MODULES",
        default_value = "./modules",
        value_name = "DIR"
    )]
    modules: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Shows every module: installed version, header version and what an upgrade would run.
    Status {
        /// Prints JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Runs the pending steps of every module, or of the named ones, printing each step as it
    /// runs. Exits non-zero if any module stopped short of its header's version.
    Upgrade {
        /// Modules to upgrade (default: all).
        #[arg(value_name = "MODULE")]
        names: Vec<String>,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Replays a step left unfinished (MySQL: a crash, or a failure after DDL committed),
    /// skipping the statements its journal says committed, then runs the module's remaining
    /// steps. Safe when the step sends the same statements again (a step has fixed clocks and
    /// seeded randomness); it stops at the first statement that differs.
    Resume {
        /// Modules to resume (default: all).
        #[arg(value_name = "MODULE")]
        names: Vec<String>,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Settles a step left unfinished by hand, once you have checked the schema: record it as
    /// applied (you completed it) or failed (you undid it, so it runs again).
    Repair {
        /// The module.
        #[arg(value_name = "MODULE")]
        module: String,
        /// Record the unfinished step as applied (a number, or `install`).
        #[arg(long, value_name = "STEP", value_parser = parse_step, conflicts_with = "mark_failed", required_unless_present = "mark_failed")]
        mark_applied: Option<u32>,
        /// Record the unfinished step as failed (a number, or `install`).
        #[arg(long, value_name = "STEP", value_parser = parse_step)]
        mark_failed: Option<u32>,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Shows every step the ledger recorded, oldest first.
    History {
        /// Only this module's steps.
        #[arg(value_name = "MODULE")]
        module: Option<String>,
        /// Prints JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Builds a module's Rust migrations into a package under the modules directory (for module
    /// authors; needs cargo and the wasm32-wasip2 target).
    Build {
        /// Module source directories: module.toml, install/ and migrations/NNN_slug/ crates.
        #[arg(required = true, value_name = "SRC")]
        sources: Vec<PathBuf>,
    },
}

/// Waiting for the upgrade lock.
#[derive(Debug, Args)]
struct LockArgs {
    /// How long to wait for another upgrade of the same database to finish.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    wait: u64,
}

/// `004`, `4` or `install` (step 0).
fn parse_step(text: &str) -> Result<u32, String> {
    if text == "install" {
        return Ok(0);
    }
    text.parse()
        .map_err(|_| format!("`{text}` is not a step number (e.g. 004) or `install`"))
}

/// Per-step limits of the sandbox, and the lock wait of commands that run steps.
#[derive(Debug, Args)]
struct LimitArgs {
    #[command(flatten)]
    lock: LockArgs,
    /// CPU budget of each step, in fuel units (about one per WebAssembly instruction).
    #[arg(long, value_name = "UNITS", default_value_t = Limits::default().fuel)]
    fuel: u64,
    /// Memory limit of each step's guest, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = Limits::default().memory_bytes >> 20)]
    memory: usize,
    /// Wall-clock limit of each step, database calls included, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = Limits::default().time.as_secs())]
    timeout: u64,
    /// Statements each step may send.
    #[arg(long, value_name = "N", default_value_t = Limits::default().statements)]
    max_statements: u64,
    /// Rows each step's queries may return, all together.
    #[arg(long, value_name = "N", default_value_t = Limits::default().rows)]
    max_rows: u64,
    /// Bytes each step's queries may return, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = Limits::default().result_bytes >> 20)]
    max_result: u64,
    /// Require every object a module creates to be named `<module>_…`.
    #[arg(long)]
    require_prefix: bool,
}

impl LimitArgs {
    fn limits(&self) -> Limits {
        Limits {
            fuel: self.fuel,
            memory_bytes: self.memory << 20,
            time: Duration::from_secs(self.timeout),
            statements: self.max_statements,
            rows: self.max_rows,
            result_bytes: self.max_result << 20,
            ..Limits::default()
        }
    }
}

/// Parses the process's arguments, runs the command and returns the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&anyhow::Error::new(e)),
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => fail(&e),
    }
}

fn fail(error: &anyhow::Error) -> ExitCode {
    eprintln!("error: {error:#}");
    ExitCode::FAILURE
}

/// Logs go to stderr; `WASMIG_LOG` (tracing's filter syntax) overrides the default, which
/// shows warnings and the guests' own log lines.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WASMIG_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,wasmig::guest=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let open = |limits| Host::open(&cli.database, cli.modules.clone(), limits);
    let mut stdout = std::io::stdout().lock();
    match cli.command {
        Command::Status { json } => {
            let plans = open(Limits::default()).await?.status().await?;
            if json {
                serde_json::to_writer_pretty(&mut stdout, &plans)?;
                writeln!(stdout)?;
            } else {
                output::status_table(&mut stdout, &plans, &cli.modules)?;
            }
        }
        Command::Upgrade { names, limits } => {
            return run_steps(open(limits.limits()).await?, &names, &limits, false).await;
        }
        Command::Resume { names, limits } => {
            return run_steps(open(limits.limits()).await?, &names, &limits, true).await;
        }
        Command::Repair {
            module,
            mark_applied,
            mark_failed,
            lock,
        } => {
            let mut host = open(Limits::default()).await?;
            host.set_lock_wait(Duration::from_secs(lock.wait));
            let repair = match (mark_applied, mark_failed) {
                (Some(step), _) => Repair::MarkApplied(step),
                (None, Some(step)) => Repair::MarkFailed(step),
                (None, None) => unreachable!("clap requires one of them"),
            };
            writeln!(stdout, "{}", host.repair(&module, repair).await?)?;
        }
        Command::History { module, json } => {
            let entries = open(Limits::default())
                .await?
                .history(module.as_deref())
                .await?;
            if json {
                serde_json::to_writer_pretty(&mut stdout, &entries)?;
                writeln!(stdout)?;
            } else {
                output::history_table(&mut stdout, &entries)?;
            }
        }
        Command::Build { sources } => {
            for source in &sources {
                let package = wasmig_build::build_module(source, &cli.modules)
                    .with_context(|| format!("building {}", source.display()))?;
                writeln!(
                    stdout,
                    "built {} {} ({} steps{}) into {}",
                    package.manifest.name,
                    package.manifest.version,
                    package.steps.len(),
                    if package.install.is_some() {
                        ", install"
                    } else {
                        ""
                    },
                    cli.modules.join(&package.manifest.name).display()
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `upgrade` and `resume`: runs steps, printing each as it goes; exit 1 if a module failed.
async fn run_steps(
    mut host: Host,
    names: &[String],
    limits: &LimitArgs,
    resume: bool,
) -> anyhow::Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    host.set_lock_wait(Duration::from_secs(limits.lock.wait));
    host.set_require_prefix(limits.require_prefix);
    let mut progress = output::Progress::new(&mut stdout);
    let on_event = |event: Event<'_>| progress.event(event);
    let report = if resume {
        host.resume(names, on_event).await?
    } else {
        host.upgrade(names, on_event).await?
    };
    progress.summary(&report)?;
    drop(progress);
    if !report.is_success() {
        for failure in report.failures() {
            eprintln!("error: {failure}");
        }
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
