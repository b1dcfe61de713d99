//! The `wasmig` command line, as a library so that tests can build it under another name.

mod hints;
mod output;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{ArgGroup, Args, Parser, Subcommand};
use wasmig_engine::{Event, Host, Limits, Repair};

/// Runs the database migrations of an application's modules as sandboxed WebAssembly components.
///
/// Each module is a directory `<modules>/<name>/` holding `module.toml` (name, version,
/// host-api), an optional `install.wasm` and `migrations/NNN_slug.wasm` (or `.sql`). wasmig compares each
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
    /// Shows what `upgrade` would do, without doing it: per module the steps that would run and
    /// the SQL each would send. On SQLite and PostgreSQL the steps run in a transaction that is
    /// rolled back; on MySQL/MariaDB (DDL commits implicitly) only SQL steps are shown, as
    /// written. Exits non-zero if a module would be refused or a step would fail.
    Plan {
        /// Modules to preview (default: all).
        #[arg(value_name = "MODULE")]
        names: Vec<String>,
        /// Prints JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        limits: RunArgs,
    },
    /// Runs the pending steps of every module, or of the named ones, printing each step as it
    /// runs. Exits non-zero if any module stopped short of its header's version.
    Upgrade {
        /// Modules to upgrade (default: all).
        #[arg(value_name = "MODULE")]
        names: Vec<String>,
        #[command(flatten)]
        limits: RunArgs,
        #[command(flatten)]
        safety: SafetyArgs,
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
        limits: RunArgs,
        #[command(flatten)]
        safety: SafetyArgs,
    },
    /// Settles a step left unfinished by hand, once you have checked the schema: record it as
    /// applied (you completed it) or failed (you undid it, so it runs again). Or accepts the
    /// current files of applied steps that changed since they ran.
    #[command(group(ArgGroup::new("repair").required(true).multiple(false)))]
    Repair {
        /// The module.
        #[arg(value_name = "MODULE")]
        module: String,
        /// Record the unfinished step as applied (`016`, `016_add_index`, or `install`).
        #[arg(long, value_name = "STEP", value_parser = parse_step, group = "repair")]
        mark_applied: Option<StepArg>,
        /// Record the unfinished step as failed (`016`, `016_add_index`, or `install`).
        #[arg(long, value_name = "STEP", value_parser = parse_step, group = "repair")]
        mark_failed: Option<StepArg>,
        /// Record the current checksums of applied steps whose files changed, after checking
        /// that the change is harmless (the steps do not run again).
        #[arg(long, group = "repair")]
        accept_changed: bool,
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
    /// Activates a module: a deactivated one becomes active again, then it is upgraded (its
    /// install path on first activation, its pending steps if it is at an older version).
    Activate {
        /// The module.
        #[arg(value_name = "MODULE")]
        module: String,
        #[command(flatten)]
        limits: RunArgs,
        #[command(flatten)]
        safety: SafetyArgs,
    },
    /// Deactivates a module: upgrades leave it alone until `activate`. Its data and stored
    /// version are kept.
    Deactivate {
        /// The module.
        #[arg(value_name = "MODULE")]
        module: String,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Runs a module's uninstall step (which drops its data) and forgets the module; only for
    /// modules whose package ships uninstall.wasm or uninstall.sql. Asks for --yes.
    Uninstall {
        /// The module.
        #[arg(value_name = "MODULE")]
        module: String,
        /// Confirms that the module's data may be dropped.
        #[arg(long)]
        yes: bool,
        /// Run the uninstall step even where only the SQL policy checks it (see `upgrade`).
        #[arg(long, env = "WASMIG_POLICY_ONLY", value_parser = clap::builder::BoolishValueParser::new())]
        policy_only: bool,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Brings the modules of a backup made by `upgrade --backup` back as they were: their
    /// tables (schema and rows) and their ledger rows. Other modules and the application's own
    /// tables are left alone.
    Restore {
        /// The backup `upgrade --backup` printed (a file on SQLite, a directory elsewhere).
        #[arg(value_name = "BACKUP")]
        backup: PathBuf,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Shows the maintenance flag an embedding application reads, or sets or clears it by hand
    /// (`upgrade --maintenance` sets it while it runs and clears it at the end).
    Maintenance {
        /// Sets the flag, with a reason shown to whoever reads it.
        #[arg(long, value_name = "REASON", conflicts_with = "clear")]
        set: Option<String>,
        /// Clears the flag (e.g. after an upgrade was killed while it held it).
        #[arg(long)]
        clear: bool,
    },
    /// Checks module packages before they are installed: the header, the numbering of the
    /// steps, the checksum list, that every component targets a version of the migration world
    /// this wasmig serves and imports nothing else, that every SQL step reads as statements.
    /// Needs no database. Exits non-zero if a check fails.
    Verify {
        /// Module directories (each holding a module.toml).
        #[arg(required = true, value_name = "DIR")]
        packages: Vec<PathBuf>,
        /// Prints JSON instead of text.
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
/// A step as an operator names it: `install`, a number (`16`, `016`) or the full name every
/// message prints (`016_add_deleted_at`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct StepArg {
    number: u32,
    /// The full name, when it was given.
    name: Option<String>,
}

fn parse_step(text: &str) -> Result<StepArg, String> {
    if text == "install" {
        return Ok(StepArg {
            number: 0,
            name: Some(text.to_owned()),
        });
    }
    let (number, name) = match text.split_once('_') {
        Some((number, _)) => (number, Some(text.to_owned())),
        None => (text, None),
    };
    let number = number.parse().map_err(|_| {
        format!(
            "`{text}` is not a step (a number such as 016, a name such as 016_add_index, or \
             `install`)"
        )
    })?;
    Ok(StepArg { number, name })
}

/// The repair asked for, once a step given by name is known to be the unfinished one.
async fn repair_of(
    host: &Host,
    module: &str,
    step: Option<&StepArg>,
    mark_applied: bool,
) -> anyhow::Result<Repair> {
    let Some(step) = step else {
        return Ok(Repair::AcceptChanged);
    };
    if let Some(name) = &step.name {
        let plan = host.status().await?;
        let unfinished = plan.iter().find_map(|p| match &p.action {
            wasmig_engine::Action::Unfinished { step, .. } if p.module == module => {
                Some(step.clone())
            }
            _ => None,
        });
        if let Some(unfinished) = unfinished.filter(|u| u != name) {
            anyhow::bail!(
                "cannot repair {module}: {name} is not the unfinished step, which is {unfinished}"
            );
        }
    }
    Ok(if mark_applied {
        Repair::MarkApplied(step.number)
    } else {
        Repair::MarkFailed(step.number)
    })
}

/// Per-step limits of the sandbox, and how commands that run steps decide.
#[derive(Debug, Args)]
struct RunArgs {
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
    /// The longest statement a step may send, in KiB (refused before it is parsed).
    #[arg(long, value_name = "KIB", default_value_t = Limits::default().statement_bytes >> 10)]
    max_statement: usize,
    /// Require every object a module creates to be named `<module>_…`.
    #[arg(long)]
    require_prefix: bool,
    /// Run steps even where the database cannot back wasmig's SQL policy up (PostgreSQL
    /// without CREATEROLE, MariaDB/MySQL), so that the policy is the only check; refused
    /// otherwise. `wasmig status` shows which mode the database is in.
    #[arg(long, env = "WASMIG_POLICY_ONLY", value_parser = clap::builder::BoolishValueParser::new())]
    policy_only: bool,
    /// Let modules ask for this PostgreSQL extension (`CREATE EXTENSION IF NOT EXISTS NAME`),
    /// which wasmig then creates with its own rights. Repeat for several; none by default.
    #[arg(long = "allow-extension", value_name = "NAME")]
    allow_extensions: Vec<String>,
    /// Run modules whose `host-api` range excludes this wasmig (they are refused otherwise).
    #[arg(long)]
    force: bool,
}

/// What commands that change modules do around their steps.
#[derive(Debug, Args)]
struct SafetyArgs {
    /// Set the database's maintenance flag while the steps run (cleared at the end, even when
    /// a step fails), for the application to hold requests meanwhile.
    #[arg(long)]
    maintenance: bool,
    /// Back up the modules about to run first (SQLite: a copy made with VACUUM INTO;
    /// PostgreSQL, MySQL: their tables dumped by pg_dump or mysqldump, and their ledger rows);
    /// its location is printed, for `wasmig restore`.
    #[arg(long)]
    backup: bool,
    /// Where `--backup` writes.
    #[arg(long, value_name = "DIR", default_value = ".", requires = "backup")]
    backup_dir: PathBuf,
}

impl SafetyArgs {
    fn configure(&self, host: &mut Host) {
        host.set_maintenance(self.maintenance);
        host.set_backup_dir(self.backup.then(|| self.backup_dir.clone()));
    }
}

impl RunArgs {
    /// Applies the lock wait, the prefix rule and `--force` to `host`.
    fn configure(&self, host: &mut Host) {
        host.set_lock_wait(Duration::from_secs(self.lock.wait));
        host.set_require_prefix(self.require_prefix);
        host.set_policy_only(self.policy_only);
        host.set_allowed_extensions(self.allow_extensions.iter().cloned());
        host.set_force(self.force);
    }

    fn limits(&self) -> Limits {
        Limits {
            fuel: self.fuel,
            memory_bytes: self.memory << 20,
            time: Duration::from_secs(self.timeout),
            statements: self.max_statements,
            rows: self.max_rows,
            result_bytes: self.max_result << 20,
            statement_bytes: self.max_statement << 10,
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
    match error.downcast_ref::<wasmig_engine::Error>() {
        Some(wasmig_engine::Error::Refused { module, refusal }) => {
            eprintln!("error: {module}: {}", hints::refusal(module, refusal));
        }
        _ => eprintln!("error: {error:#}"),
    }
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
    let resume = matches!(cli.command, Command::Resume { .. });
    let mut stdout = std::io::stdout().lock();
    match cli.command {
        Command::Status { json } => {
            let host = open(Limits::default()).await?;
            let plans = host.status().await?;
            if json {
                serde_json::to_writer_pretty(&mut stdout, &plans)?;
                writeln!(stdout)?;
            } else {
                output::status_table(&mut stdout, &plans, &cli.modules)?;
                writeln!(stdout, "security: {}", host.enforcement().await?)?;
            }
        }
        Command::Plan {
            names,
            json,
            limits,
        } => {
            let mut host = open(limits.limits()).await?;
            limits.configure(&mut host);
            let dry_run = host.plan(&names).await?;
            if json {
                serde_json::to_writer_pretty(&mut stdout, &dry_run)?;
                writeln!(stdout)?;
            } else {
                output::dry_run(&mut stdout, &dry_run)?;
            }
            let clean = dry_run.modules.iter().all(|m| {
                !matches!(m.plan.action, wasmig_engine::Action::Refused { .. })
                    && m.steps.iter().all(|s| s.error.is_none())
            });
            if !clean {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Upgrade {
            names,
            limits,
            safety,
        }
        | Command::Resume {
            names,
            limits,
            safety,
        } => {
            let mut host = open(limits.limits()).await?;
            safety.configure(&mut host);
            return run_steps(host, &names, &limits, resume).await;
        }
        Command::Repair {
            module,
            mark_applied,
            mark_failed,
            accept_changed,
            lock,
        } => {
            let mut host = open(Limits::default()).await?;
            host.set_lock_wait(Duration::from_secs(lock.wait));
            debug_assert!(accept_changed || mark_applied.is_some() || mark_failed.is_some());
            let step = mark_applied.as_ref().or(mark_failed.as_ref());
            let repair = repair_of(&host, &module, step, mark_applied.is_some()).await?;
            let repaired = host.repair(&module, repair).await?;
            writeln!(stdout, "{}", output::repaired(&module, &repaired))?;
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
        Command::Activate {
            module,
            limits,
            safety,
        } => {
            let mut host = open(limits.limits()).await?;
            limits.configure(&mut host);
            safety.configure(&mut host);
            let mut progress = output::Progress::new(&mut stdout, interactive());
            let report = host
                .activate(&module, |event| progress.event(event))
                .await?;
            return finish_steps(progress, &report);
        }
        Command::Deactivate { module, lock } => {
            let mut host = open(Limits::default()).await?;
            host.set_lock_wait(Duration::from_secs(lock.wait));
            host.deactivate(&module).await?;
            writeln!(
                stdout,
                "{module}: deactivated; its data and stored version are kept"
            )?;
        }
        Command::Uninstall {
            module,
            yes,
            policy_only,
            lock,
        } => {
            if !yes {
                anyhow::bail!(
                    "uninstalling {module} runs its uninstall step, which drops its data: run \
                     `wasmig uninstall {module} --yes` to confirm"
                );
            }
            let mut host = open(Limits::default()).await?;
            host.set_lock_wait(Duration::from_secs(lock.wait));
            host.set_policy_only(policy_only);
            host.uninstall(&module).await?;
            writeln!(
                stdout,
                "{module}: uninstalled (its history is kept; `wasmig activate {module}` installs \
                 it again)"
            )?;
        }
        Command::Restore { backup, lock } => {
            let mut host = open(Limits::default()).await?;
            host.set_lock_wait(Duration::from_secs(lock.wait));
            let modules = host.restore(&backup).await?;
            writeln!(
                stdout,
                "restored {} from {}",
                modules.join(", "),
                backup.display()
            )?;
        }
        Command::Maintenance { set, clear } => {
            let host = open(Limits::default()).await?;
            if clear || set.is_some() {
                host.set_maintenance_flag(set.as_deref()).await?;
            }
            match host.maintenance_since().await? {
                Some((since, reason)) => {
                    writeln!(stdout, "under maintenance since {since}: {reason}")?
                }
                None => writeln!(stdout, "not under maintenance")?,
            }
        }
        Command::Verify { packages, json } => {
            let runtime = wasmig_engine::Runtime::new(Limits::default())?;
            let mut results = Vec::new();
            for dir in &packages {
                results.push(wasmig_engine::verify_package(&runtime, dir).await);
            }
            if json {
                serde_json::to_writer_pretty(&mut stdout, &results)?;
                writeln!(stdout)?;
            } else {
                for result in &results {
                    output::verification(&mut stdout, result)?;
                }
            }
            if !results.iter().all(wasmig_engine::Verification::passed) {
                return Ok(ExitCode::FAILURE);
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
    limits: &RunArgs,
    resume: bool,
) -> anyhow::Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    limits.configure(&mut host);
    let mut progress = output::Progress::new(&mut stdout, interactive());
    let on_event = |event: Event<'_>| progress.event(event);
    let report = if resume {
        host.resume(names, on_event).await?
    } else {
        host.upgrade(names, on_event).await?
    };
    finish_steps(progress, &report)
}

/// True when stdout is a terminal: commands that run steps then draw progress bars.
fn interactive() -> bool {
    std::io::IsTerminal::is_terminal(&std::io::stdout())
}

/// Prints the summary of commands that run steps; exit 1 if a module failed.
fn finish_steps(
    mut progress: output::Progress<impl Write>,
    report: &wasmig_engine::UpgradeReport,
) -> anyhow::Result<ExitCode> {
    progress.summary(report)?;
    drop(progress);
    if !report.is_success() {
        for failure in report.failures() {
            eprintln!("error: {}", hints::failure(failure));
        }
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
