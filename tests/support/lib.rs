//! Helpers shared by the integration tests: built plugin components, throw-away databases and
//! module directories, database dumps and the CLI as a process.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use wasmig_db::{Database, Dialect, Value};
use wasmig_engine::{Failure, Host, Limits, UpgradeReport};

pub mod corpus;
pub mod schema;

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

/// A temporary directory with a modules directory, and a fresh database on one backend.
pub struct Sandbox {
    dir: tempfile::TempDir,
    db: TestDatabase,
}

impl Sandbox {
    /// A fresh sandbox with an empty database on `backend`.
    pub async fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        fs::create_dir(dir.path().join("modules")).expect("the modules directory");
        let db = TestDatabase::create(backend, dir.path()).await;
        Sandbox { dir, db }
    }

    /// A fresh sandbox on `backend` whose database has the example module installed at 1.0.0
    /// (steps 001 and 002).
    pub async fn with_blog_v1(backend: Backend) -> Self {
        let sandbox = Sandbox::new(backend).await;
        blog_v1(&sandbox).write();
        let report = sandbox.upgrade().await;
        assert!(report.is_success(), "{report:?}");
        sandbox
    }

    /// The backend the sandbox's database runs on.
    pub fn backend(&self) -> Backend {
        self.db.backend
    }

    /// Where the modules live.
    pub fn modules_dir(&self) -> PathBuf {
        self.dir.path().join("modules")
    }

    /// The component cache the CLI uses in this sandbox (created by its first run).
    pub fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    /// The URL of the sandbox's database.
    pub fn database_url(&self) -> String {
        self.db.url.clone()
    }

    /// Starts writing the package of module `name` at `version`.
    pub fn module(&self, name: &str, version: &str) -> ModuleWriter {
        ModuleWriter {
            dir: self.modules_dir().join(name),
            header: format!("name = \"{name}\"\nversion = \"{version}\"\nhost-api = \"^0.1\"\n"),
            install: None,
            steps: Vec::new(),
            sql_steps: Vec::new(),
            files: Vec::new(),
        }
    }

    /// A host over the sandbox with default limits.
    pub async fn host(&self) -> Host {
        self.host_with(Limits::default()).await
    }

    /// A host over the sandbox with the given limits.
    /// On MariaDB/MySQL, where the database cannot back the policy up, it accepts the policy
    /// as the only check (as an operator must, with `--policy-only`).
    pub async fn host_with(&self, limits: Limits) -> Host {
        let mut host = Host::open(&self.database_url(), self.modules_dir(), limits)
            .await
            .expect("the host opens");
        host.set_policy_only(self.policy_only());
        host
    }

    /// True where tests accept the SQL policy as the only check: nowhere, since the test
    /// servers' accounts may confine modules on every backend.
    pub fn policy_only(&self) -> bool {
        false
    }

    /// Upgrades every module and returns the report.
    pub async fn upgrade(&self) -> UpgradeReport {
        self.host()
            .await
            .upgrade(&[], |_| {})
            .await
            .expect("the upgrade runs")
    }

    /// Runs one statement directly on the database (to set up a scenario).
    pub async fn sql(&self, sql: &str) {
        let db = self.database().await;
        db.execute(sql, &[])
            .await
            .expect("the setup statement runs");
        db.close().await;
    }

    /// The integer a one-row, one-column query returns (`SELECT COUNT(*) …`).
    pub async fn integer(&self, sql: &str) -> i64 {
        let rows = self
            .database()
            .await
            .query(sql, &[])
            .await
            .expect("the query runs");
        rows.rows
            .first()
            .and_then(|row| row.first())
            .and_then(Value::as_integer)
            .unwrap_or_else(|| panic!("`{sql}` returned no integer"))
    }

    /// Takes up a module whose step failed: `upgrade` where DDL is transactional (the step
    /// simply runs again), `resume` on MySQL (the step is unfinished and is replayed).
    pub async fn retry(&self) -> UpgradeReport {
        let host = self.host().await;
        let retried = if self.backend().has_transactional_ddl() {
            host.upgrade(&[], |_| {}).await
        } else {
            host.resume(&[], |_| {}).await
        };
        retried.expect("the retry runs")
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
        self.dump_except(&["wasmig_"]).await
    }

    /// Like [`Sandbox::dump`], without the tables whose names start with one of `prefixes`.
    pub async fn dump_except(&self, prefixes: &[&str]) -> String {
        dump(&self.database().await, |name| {
            !prefixes.iter().any(|prefix| name.starts_with(prefix))
        })
        .await
    }

    /// The statements other sessions still run on the sandbox's database after up to two
    /// seconds (empty on SQLite, which runs in the process): what a stopped step must not leave
    /// behind.
    pub async fn running_statements(&self) -> Vec<String> {
        let sql = match self.backend() {
            Backend::Sqlite => return Vec::new(),
            Backend::Postgres => {
                "SELECT query FROM pg_stat_activity WHERE datname = current_database() \
                 AND backend_type = 'client backend' AND state = 'active' \
                 AND pid <> pg_backend_pid()"
            }
            Backend::MySql => {
                "SELECT CAST(info AS CHAR) FROM information_schema.processlist \
                 WHERE db = DATABASE() AND info IS NOT NULL AND id <> CONNECTION_ID()"
            }
        };
        let db = self.database().await;
        // A statement that just returned may still be listed for a moment: only what stays
        // counts (a statement left running stays for as long as it runs).
        let mut running = Vec::new();
        for _ in 0..20 {
            let rows = db.query(sql, &[]).await.expect("the server's session list");
            running = rows
                .rows
                .into_iter()
                .filter_map(|row| row.into_iter().next())
                .map(|v| v.as_text().unwrap_or("?").to_owned())
                .collect();
            if running.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        db.close().await;
        running
    }

    /// The names of the tables in the database.
    pub async fn tables(&self) -> Vec<String> {
        let db = self.database().await;
        let rows = db
            .query(catalog(db.dialect()).tables, &[])
            .await
            .expect("the catalog");
        rows.rows
            .into_iter()
            .filter_map(|row| row.into_iter().next())
            .filter_map(|v| v.as_text().map(str::to_owned))
            .collect()
    }

    /// Runs the `wasmig` binary at `program` on this sandbox with `args` (accepting the policy
    /// as the only check where [`Sandbox::policy_only`] says).
    pub fn cli(&self, program: &str, args: &[&str]) -> CliOutput {
        self.cli_accepting(self.policy_only(), program, args)
    }

    /// Like [`Sandbox::cli`], with `WASMIG_POLICY_ONLY` set as `policy_only` says.
    pub fn cli_accepting(&self, policy_only: bool, program: &str, args: &[&str]) -> CliOutput {
        let mut command = self.cli_command(program, args);
        if policy_only {
            command.env("WASMIG_POLICY_ONLY", "1");
        }
        let output = command.output().expect("the CLI starts");
        CliOutput(output)
    }

    /// The command [`Sandbox::cli`] runs, to spawn it instead.
    pub fn cli_command(&self, program: &str, args: &[&str]) -> Command {
        let mut command = Command::new(program);
        command
            .current_dir(self.dir.path())
            .env("DATABASE_URL", self.database_url())
            .env("WASMIG_MODULES", self.modules_dir())
            .env("WASMIG_CACHE_DIR", self.cache_dir())
            .env_remove("WASMIG_POLICY_ONLY")
            .env_remove("WASMIG_LOG")
            .args(args);
        command
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
    sql_steps: Vec<(String, String)>,
    files: Vec<(String, String)>,
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

    /// Adds `migrations/<stem>.sql` holding `script`.
    pub fn sql_step(mut self, stem: &str, script: &str) -> Self {
        self.sql_steps.push((stem.to_owned(), script.to_owned()));
        self
    }

    /// Adds a file at `path` (relative to the module's directory), e.g. `uninstall.sql`.
    pub fn file(mut self, path: &str, text: &str) -> Self {
        self.files.push((path.to_owned(), text.to_owned()));
        self
    }

    /// Adds a line to the header (before any table such as `[grants]`).
    pub fn header_line(mut self, line: &str) -> Self {
        self.header.insert_str(0, &format!("{line}\n"));
        self
    }

    /// Lets the module read `table` (a `[grants]` entry in its header).
    pub fn grant_read(self, table: &str) -> Self {
        self.grant("read", table)
    }

    /// Lets the module read and write `table` (a `[grants]` entry in its header).
    pub fn grant_write(self, table: &str) -> Self {
        self.grant("write", table)
    }

    fn grant(mut self, access: &str, table: &str) -> Self {
        self.header
            .push_str(&format!("\n[grants]\n{access} = [\"{table}\"]\n"));
        self
    }

    /// Sets the version the header declares.
    pub fn version(mut self, version: &str) -> Self {
        self.header = self
            .header
            .lines()
            .map(|line| {
                if line.starts_with("version = ") {
                    format!("version = \"{version}\"\n")
                } else {
                    format!("{line}\n")
                }
            })
            .collect();
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
        for (stem, script) in &self.sql_steps {
            fs::write(
                self.dir.join("migrations").join(format!("{stem}.sql")),
                script,
            )
            .expect("a SQL step");
        }
        for (path, text) in &self.files {
            fs::write(self.dir.join(path), text).expect("a package file");
        }
        self.dir
    }
}

/// A database backend the tests run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in the sandbox's directory.
    Sqlite,
    /// A new database on the PostgreSQL server of `WASMIG_TEST_POSTGRES`.
    Postgres,
    /// A new database on the MariaDB/MySQL server of `WASMIG_TEST_MYSQL`.
    MySql,
}

impl Backend {
    /// False on MySQL/MariaDB, where DDL commits implicitly and cannot be rolled back.
    pub fn has_transactional_ddl(self) -> bool {
        self != Backend::MySql
    }
}

/// The server administration URLs, overridable by the environment.
fn admin_url(backend: Backend) -> String {
    let (variable, default) = match backend {
        Backend::Sqlite => unreachable!("SQLite has no server"),
        Backend::Postgres => (
            "WASMIG_TEST_POSTGRES",
            "postgres://postgres@127.0.0.1:5432/test",
        ),
        Backend::MySql => ("WASMIG_TEST_MYSQL", "mysql://root@127.0.0.1:3306/test"),
    };
    std::env::var(variable).unwrap_or_else(|_| default.to_owned())
}

/// A database created for one test and dropped after it.
struct TestDatabase {
    backend: Backend,
    url: String,
    name: String,
}

impl TestDatabase {
    async fn create(backend: Backend, dir: &Path) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "wasmig_t{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let url = match backend {
            Backend::Sqlite => format!("sqlite://{}", dir.join("test.db").display()),
            Backend::Postgres | Backend::MySql => {
                let admin_url = admin_url(backend);
                let admin = Database::connect(&admin_url)
                    .await
                    .unwrap_or_else(|e| panic!("the {backend:?} test server must be up: {e}"));
                admin
                    .execute(&format!("DROP DATABASE IF EXISTS {name}"), &[])
                    .await
                    .expect("dropping a leftover database");
                admin
                    .execute(&format!("CREATE DATABASE {name}"), &[])
                    .await
                    .expect("creating the test database");
                admin.close().await;
                let (base, _) = admin_url.rsplit_once('/').expect("a URL with a database");
                format!("{base}/{name}")
            }
        };
        TestDatabase { backend, url, name }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let drop_sql = match self.backend {
            Backend::Sqlite => return,
            Backend::Postgres => format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            Backend::MySql => format!("DROP DATABASE IF EXISTS {}", self.name),
        };
        let admin_url = admin_url(self.backend);
        // Drop runs outside any async context: use a runtime of its own, on a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let admin = Database::connect(&admin_url).await?;
                admin.execute(&drop_sql, &[]).await?;
                admin.close().await;
                Ok::<_, wasmig_db::Error>(())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("warning: could not drop test database {}: {e}", self.name);
        }
    }
}

/// Catalog queries per dialect, each returning text columns.
struct Catalog {
    tables: &'static str,
    objects: &'static str,
}

fn catalog(dialect: Dialect) -> Catalog {
    match dialect {
        Dialect::Sqlite => Catalog {
            tables: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
            objects: "SELECT tbl_name, type || ' ' || name || ': ' || COALESCE(sql, '') \
                      FROM sqlite_master ORDER BY type, name",
        },
        Dialect::Postgres => Catalog {
            tables: "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = current_schema() ORDER BY 1",
            objects: "SELECT table_name::text, 'column ' || column_name || ' ' || data_type \
                      || ' null=' || is_nullable || ' default=' || COALESCE(column_default, '-') \
                      FROM information_schema.columns WHERE table_schema = current_schema() \
                      UNION ALL SELECT tablename::text, 'index ' || indexdef FROM pg_indexes \
                      WHERE schemaname = current_schema() ORDER BY 1, 2",
        },
        Dialect::MySql => Catalog {
            tables: "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
                     WHERE table_schema = DATABASE() ORDER BY 1",
            objects: "SELECT CAST(table_name AS CHAR), CAST(CONCAT('column ', column_name, ' ', \
                      column_type, ' null=', is_nullable, ' default=', \
                      COALESCE(column_default, '-')) AS CHAR) \
                      FROM information_schema.columns WHERE table_schema = DATABASE() \
                      UNION ALL SELECT CAST(table_name AS CHAR), CAST(CONCAT('index ', index_name, \
                      ' ', seq_in_index, ' ', column_name) AS CHAR) \
                      FROM information_schema.statistics WHERE table_schema = DATABASE() \
                      ORDER BY 1, 2",
        },
    }
}

/// The first failure of `report`, which must mention `expected`.
pub fn failure_mentioning(report: &UpgradeReport, expected: &str) -> Failure {
    let failure = report
        .failures()
        .next()
        .unwrap_or_else(|| panic!("a failure mentioning `{expected}`: {report:?}"))
        .clone();
    assert!(
        failure.reason.contains(expected),
        "`{failure}` should mention `{expected}`"
    );
    failure
}

/// The blog example at version 1.0.0 with its first two steps.
pub fn blog_v1(sandbox: &Sandbox) -> ModuleWriter {
    sandbox
        .module("blog", "1.0.0")
        .step("001_create_posts", "blog/migrations/001_create_posts")
        .step("002_add_status", "blog/migrations/002_add_status")
}

/// Asserts that [`slow_module`] stopped in its sleeping step: the first step applied, the
/// sleeping one rolled back (nothing after its sleep ran), the third not run, and the
/// maintenance flag cleared.
pub async fn assert_slow_stopped_in_its_sleep(sandbox: &Sandbox) {
    let tables = sandbox.tables().await;
    assert!(tables.contains(&"slow_001_ok".to_owned()), "{tables:?}");
    assert!(!tables.contains(&"slow_003_after".to_owned()), "{tables:?}");
    assert!(
        !tables.contains(&"evil_after_sleep".to_owned()),
        "{tables:?}"
    );
    let host = sandbox.host().await;
    assert!(!host.is_under_maintenance().await.unwrap(), "flag cleared");
}

/// Sends `signal` (`INT`, `TERM`) to `child`, waits (a minute at most) for it to exit, and
/// returns how it exited and what it wrote to its (piped) stderr.
pub fn signal_and_wait(child: &mut Child, signal: &str) -> (ExitStatus, String) {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the process did not stop on SIG{signal}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        std::io::Read::read_to_string(&mut pipe, &mut stderr).unwrap();
    }
    (status, stderr)
}

/// The module `slow`: a step, a step that sleeps an hour (only a stop or its time limit ends
/// it) and a step after it.
pub fn slow_module(sandbox: &Sandbox) -> ModuleWriter {
    sandbox
        .module("slow", "1.0.0")
        .step("001_ok", "testing/create_table")
        .step("002_sleep", "hostile/sleep")
        .step("003_after", "testing/create_table")
}

/// The blog example's first three steps (the third indexes the status), as `version`.
pub fn blog_indexed(sandbox: &Sandbox, version: &str) -> ModuleWriter {
    sandbox
        .module("blog", version)
        .step("001_create_posts", "blog/migrations/001_create_posts")
        .step("002_add_status", "blog/migrations/002_add_status")
        .step("003_index_status", "blog/migrations/003_index_status")
}

async fn dump(db: &Database, keep: impl Fn(&str) -> bool) -> String {
    let dialect = db.dialect();
    let catalog = catalog(dialect);
    let text = |v: &Value| v.as_text().unwrap_or_default().to_owned();
    let mut out = String::new();
    let objects = db.query(catalog.objects, &[]).await.expect("the catalog");
    for object in &objects.rows {
        if keep(&text(&object[0])) {
            out.push_str(&format!("{}: {}\n", text(&object[0]), text(&object[1])));
        }
    }
    let tables = db.query(catalog.tables, &[]).await.expect("the catalog");
    for table in tables.rows.iter().map(|row| text(&row[0])) {
        if !keep(&table) || table.starts_with("sqlite_") {
            continue;
        }
        let quoted = match dialect {
            Dialect::MySql => format!("`{table}`"),
            _ => format!("\"{table}\""),
        };
        let rows = db
            .query(&format!("SELECT * FROM {quoted}"), &[])
            .await
            .expect("the table is readable");
        // Row order is the server's business: compare sorted rows.
        let mut lines: Vec<String> = rows.rows.iter().map(|row| format_row(row)).collect();
        lines.sort();
        out.push_str(&format!("rows of {table}:\n"));
        for line in lines {
            out.push_str(&format!("  {line}\n"));
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

/// Turns each listed `async fn name(backend: Backend)` into three tests, `sqlite::name`,
/// `postgres::name` and `mysql::name`, so every scenario runs on every backend.
#[macro_export]
macro_rules! on_every_backend {
    ($($test:ident),+ $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                super::$test($crate::Backend::Sqlite).await
            })+
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                super::$test($crate::Backend::Postgres).await
            })+
        }
        mod mysql {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                super::$test($crate::Backend::MySql).await
            })+
        }
    };
}
