//! Option groups shared by several commands, defined once and flattened into each, and the
//! one place where they become the engine's settings.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use wasmig_engine::{ComponentCache, Host, Limits, Settings};

/// Where wasmig works: the database and the modules directory (global options).
#[derive(Debug, Clone, Args)]
pub struct Target {
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
    pub database: String,

    /// The directory holding one subdirectory per installed module.
    #[arg(
        long,
        short = 'm',
        global = true,
        env = "WASMIG_MODULES",
        default_value = "./modules",
        value_name = "DIR"
    )]
    pub modules: PathBuf,

    /// Where compiled components are kept between runs, so that each is compiled once
    /// (default: $XDG_CACHE_HOME/wasmig or ~/.cache/wasmig). It must belong to this user and
    /// be writable by no one else; it is created so.
    #[arg(long, global = true, env = "WASMIG_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Compile every component afresh and keep nothing (wins over --cache-dir).
    #[arg(long, global = true)]
    pub no_cache: bool,
}

impl Target {
    /// A host over the database and the modules directory, configured by `settings`.
    pub async fn open(&self, mut settings: Settings) -> anyhow::Result<Host> {
        settings.component_cache = self.component_cache()?;
        Ok(Host::open_with(&self.database, self.modules.clone(), settings).await?)
    }

    /// The component cache the options ask for: an unusable `--cache-dir` is an error, an
    /// unusable default a warning (the run goes on without a cache).
    pub fn component_cache(&self) -> anyhow::Result<Option<ComponentCache>> {
        if self.no_cache {
            return Ok(None);
        }
        if let Some(dir) = &self.cache_dir {
            return Ok(Some(ComponentCache::open(dir)?));
        }
        let Some(dir) = ComponentCache::default_dir() else {
            return Ok(None);
        };
        match ComponentCache::open(dir) {
            Ok(cache) => Ok(Some(cache)),
            Err(error) => {
                eprintln!(
                    "warning: {:#}; compiling without a cache",
                    anyhow::Error::from(error)
                );
                Ok(None)
            }
        }
    }
}

/// Waiting for the upgrade lock.
#[derive(Debug, Args)]
pub struct LockArgs {
    /// How long to wait for another upgrade of the same database to finish.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub wait: u64,
}

impl LockArgs {
    /// The engine's settings for a command that only takes the lock.
    pub fn settings(&self) -> Settings {
        Settings {
            lock_wait: Duration::from_secs(self.wait),
            ..Settings::default()
        }
    }
}

/// Per-step limits of the sandbox, and how commands that run steps decide.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub lock: LockArgs,
    /// CPU budget of each step, in fuel units (about one per WebAssembly instruction).
    #[arg(long, value_name = "UNITS", default_value_t = Limits::default().fuel)]
    pub fuel: u64,
    /// Memory limit of each step's guest, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = Limits::default().memory_bytes >> 20)]
    pub memory: usize,
    /// Wall-clock limit of each step, database calls included, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = Limits::default().time.as_secs())]
    pub timeout: u64,
    /// Statements each step may send.
    #[arg(long, value_name = "N", default_value_t = Limits::default().statements)]
    pub max_statements: u64,
    /// Rows each step's queries may return, all together.
    #[arg(long, value_name = "N", default_value_t = Limits::default().rows)]
    pub max_rows: u64,
    /// Bytes each step's queries may return, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = Limits::default().result_bytes >> 20)]
    pub max_result: u64,
    /// The longest statement a step may send, in KiB (refused before it is parsed).
    #[arg(long, value_name = "KIB", default_value_t = Limits::default().statement_bytes >> 10)]
    pub max_statement: usize,
    /// Require every object a module creates to be named `<module>_…`.
    #[arg(long)]
    pub require_prefix: bool,
    /// Run steps even where the database cannot back wasmig's SQL policy up (PostgreSQL
    /// without CREATEROLE, MariaDB/MySQL), so that the policy is the only check; refused
    /// otherwise. `wasmig status` shows which mode the database is in.
    #[arg(long, env = "WASMIG_POLICY_ONLY", value_parser = clap::builder::BoolishValueParser::new())]
    pub policy_only: bool,
    /// Let modules ask for this PostgreSQL extension (`CREATE EXTENSION IF NOT EXISTS NAME`),
    /// which wasmig then creates with its own rights. Repeat for several; none by default.
    #[arg(long = "allow-extension", value_name = "NAME")]
    pub allow_extensions: Vec<String>,
    /// Run modules whose `host-api` range excludes this wasmig (they are refused otherwise).
    #[arg(long)]
    pub force: bool,
}

/// What commands that change modules do around their steps.
#[derive(Debug, Args)]
pub struct SafetyArgs {
    /// Set the database's maintenance flag while the steps run (cleared at the end, even when
    /// a step fails or the command is interrupted), for the application to hold requests
    /// meanwhile.
    #[arg(long)]
    pub maintenance: bool,
    /// Back up the modules about to run first (SQLite: a copy made with VACUUM INTO;
    /// PostgreSQL, MySQL: their tables dumped by pg_dump or mysqldump, and their ledger rows);
    /// its location is printed, for `wasmig restore`.
    #[arg(long)]
    pub backup: bool,
    /// Where `--backup` writes.
    #[arg(long, value_name = "DIR", default_value = ".", requires = "backup")]
    pub backup_dir: PathBuf,
    /// Run the steps of modules whose objects changed outside their steps since their last
    /// upgrade (`status` lists them, `wasmig diff MODULE` shows what changed); refused
    /// otherwise. The acceptance is recorded in the history.
    #[arg(long)]
    pub accept_drift: bool,
}

impl RunArgs {
    /// The engine's settings for a command that runs steps (`safety`: what it does around
    /// them, for the commands that change modules).
    pub fn settings(&self, safety: Option<&SafetyArgs>) -> Settings {
        Settings {
            limits: Limits {
                fuel: self.fuel,
                memory_bytes: self.memory << 20,
                time: Duration::from_secs(self.timeout),
                statements: self.max_statements,
                rows: self.max_rows,
                result_bytes: self.max_result << 20,
                statement_bytes: self.max_statement << 10,
                ..Limits::default()
            },
            lock_wait: Duration::from_secs(self.lock.wait),
            require_prefix: self.require_prefix,
            policy_only: self.policy_only,
            allowed_extensions: self.allow_extensions.clone(),
            force: self.force,
            maintenance: safety.is_some_and(|s| s.maintenance),
            backup_dir: safety.and_then(|s| s.backup.then(|| s.backup_dir.clone())),
            // Set from the global options by `Target::open`.
            component_cache: None,
            accept_drift: safety.is_some_and(|s| s.accept_drift),
        }
    }
}
