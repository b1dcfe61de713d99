//! Helpers shared by the integration tests: built plugin components, throw-away databases and
//! module directories, database dumps and the CLI as a process.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use wasmig_db::{Database, Value};
use wasmig_engine::{Host, Limits, UpgradeReport};

/// The plugins workspace, relative to this crate.
fn plugins_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins")
}

/// Every component of the plugins workspace, built once per test process
/// (`cargo build --release --target wasm32-wasip2`; incremental after the first time).
pub fn component(crate_dir: &str) -> PathBuf {
    static BUILT: OnceLock<BTreeMap<PathBuf, PathBuf>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        wasmig_build::build_workspace(&plugins_dir().join("Cargo.toml"))
            .unwrap_or_else(|e| panic!("building the plugins failed: {e}"))
    });
    let key = plugins_dir()
        .join(crate_dir)
        .canonicalize()
        .unwrap_or_else(|e| panic!("no plugin crate {crate_dir}: {e}"));
    built
        .get(&key)
        .unwrap_or_else(|| panic!("{crate_dir} produced no component"))
        .clone()
}

/// A temporary directory with a modules directory and a SQLite database file.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    /// A fresh, empty sandbox.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        fs::create_dir(dir.path().join("modules")).expect("the modules directory");
        Sandbox { dir }
    }

    /// Where the modules live.
    pub fn modules_dir(&self) -> PathBuf {
        self.dir.path().join("modules")
    }

    /// The URL of the sandbox's database.
    pub fn database_url(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("test.db").display())
    }

    /// Starts writing the package of module `name` at `version`.
    pub fn module(&self, name: &str, version: &str) -> ModuleWriter {
        ModuleWriter {
            dir: self.modules_dir().join(name),
            header: format!("name = \"{name}\"\nversion = \"{version}\"\nhost-api = \"^0.1\"\n"),
            install: None,
            steps: Vec::new(),
        }
    }

    /// A host over the sandbox with default limits.
    pub async fn host(&self) -> Host {
        Host::open(&self.database_url(), self.modules_dir(), Limits::default())
            .await
            .expect("the host opens")
    }

    /// Upgrades every module and returns the report.
    pub async fn upgrade(&self) -> UpgradeReport {
        self.host()
            .await
            .upgrade(&[], |_| {})
            .await
            .expect("the upgrade runs")
    }

    /// The database, for direct inspection.
    pub async fn database(&self) -> Database {
        Database::connect(&self.database_url())
            .await
            .expect("the database opens")
    }

    /// Every object's definition and every table's rows, the ledger included.
    pub async fn dump(&self) -> String {
        dump(&self.database().await, |_| true).await
    }

    /// Like [`Sandbox::dump`], without wasmig's own ledger tables.
    pub async fn dump_module_data(&self) -> String {
        dump(&self.database().await, |name| !name.starts_with("wasmig_")).await
    }

    /// The names of the tables in the database.
    pub async fn tables(&self) -> Vec<String> {
        let rows = self
            .database()
            .await
            .query(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
                &[],
            )
            .await
            .expect("sqlite_master is readable");
        rows.rows
            .into_iter()
            .filter_map(|row| row.into_iter().next())
            .filter_map(|v| v.as_text().map(str::to_owned))
            .collect()
    }

    /// Runs the `wasmig` binary at `program` on this sandbox with `args`.
    pub fn cli(&self, program: &str, args: &[&str]) -> CliOutput {
        let output = Command::new(program)
            .current_dir(self.dir.path())
            .env("DATABASE_URL", self.database_url())
            .env("WASMIG_MODULES", self.modules_dir())
            .env_remove("WASMIG_LOG")
            .args(args)
            .output()
            .expect("the CLI starts");
        CliOutput(output)
    }

    /// The sandbox's directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// What a CLI run printed and how it exited.
pub struct CliOutput(pub Output);

impl CliOutput {
    /// Standard output, as text.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }

    /// Standard error, as text.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }

    /// True when the process exited with status 0.
    pub fn success(&self) -> bool {
        self.0.status.success()
    }
}

impl std::fmt::Debug for CliOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.0.status.code(),
            self.stdout(),
            self.stderr()
        )
    }
}

/// Writes a module package into a sandbox.
pub struct ModuleWriter {
    dir: PathBuf,
    header: String,
    install: Option<PathBuf>,
    steps: Vec<(String, PathBuf)>,
}

impl ModuleWriter {
    /// Uses the component of plugin crate `crate_dir` as `install.wasm`.
    pub fn install(mut self, crate_dir: &str) -> Self {
        self.install = Some(component(crate_dir));
        self
    }

    /// Adds `migrations/<stem>.wasm`, the component of plugin crate `crate_dir`.
    pub fn step(mut self, stem: &str, crate_dir: &str) -> Self {
        self.steps.push((stem.to_owned(), component(crate_dir)));
        self
    }

    /// Replaces the header text.
    pub fn header(mut self, text: &str) -> Self {
        self.header = text.to_owned();
        self
    }

    /// Writes the package, replacing whatever the module's directory held.
    pub fn write(self) -> PathBuf {
        let _ = fs::remove_dir_all(&self.dir);
        fs::create_dir_all(self.dir.join("migrations")).expect("the module directory");
        fs::write(self.dir.join("module.toml"), &self.header).expect("module.toml");
        if let Some(install) = &self.install {
            fs::copy(install, self.dir.join("install.wasm")).expect("install.wasm");
        }
        for (stem, component) in &self.steps {
            fs::copy(
                component,
                self.dir.join("migrations").join(format!("{stem}.wasm")),
            )
            .expect("a step");
        }
        self.dir
    }
}

/// The blog example at version 1.0.0 with its first two steps.
pub fn blog_v1(sandbox: &Sandbox) -> ModuleWriter {
    sandbox
        .module("blog", "1.0.0")
        .step("001_create_posts", "blog/migrations/001_create_posts")
        .step("002_add_status", "blog/migrations/002_add_status")
}

async fn dump(db: &Database, keep: impl Fn(&str) -> bool) -> String {
    let objects = db
        .query(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name",
            &[],
        )
        .await
        .expect("sqlite_master is readable");
    let mut out = String::new();
    for object in &objects.rows {
        let [kind, name, table, sql] = &object[..] else {
            unreachable!("four columns")
        };
        let (Some(kind), Some(table)) = (kind.as_text(), table.as_text()) else {
            continue;
        };
        if !keep(table) {
            continue;
        }
        out.push_str(&format!("{kind} {name:?}: {sql:?}\n"));
        if kind == "table" && !table.starts_with("sqlite_") {
            let rows = db
                .query(&format!("SELECT * FROM \"{table}\" ORDER BY 1"), &[])
                .await
                .expect("the table is readable");
            for row in rows.rows {
                out.push_str(&format!("  {}\n", format_row(&row)));
            }
        }
    }
    out
}

fn format_row(row: &[Value]) -> String {
    row.iter()
        .map(|v| format!("{v:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}
