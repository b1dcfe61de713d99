//! The migration histories under `tests/corpus/<dialect>/`: written the way real applications
//! write theirs, run unmodified by wasmig and by each database's own client.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{Backend, Sandbox};

/// One dialect's history: a module header and its numbered steps.
pub struct Corpus {
    dir: PathBuf,
    header: String,
    steps: Vec<Step>,
}

/// One step of a history.
struct Step {
    /// `NNN_slug`.
    stem: String,
    /// What wasmig runs.
    source: Source,
}

enum Source {
    /// A plain SQL step, run by wasmig and by the client alike.
    Sql(String),
    /// A component (the plugin crate that builds it), standing in for SQL that wasmig refuses
    /// (dynamic SQL); the client runs that SQL, kept in `reference/NNN_slug.sql`.
    Component {
        crate_dir: String,
        reference: String,
    },
}

impl Corpus {
    /// The history for `backend`.
    pub fn load(backend: Backend) -> Corpus {
        let dialect = match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::MySql => "mysql",
        };
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("corpus")
            .join(dialect);
        let header = fs::read_to_string(dir.join("module.toml")).expect("the corpus header");
        let components = fs::read_to_string(dir.join("components")).unwrap_or_default();
        let mut steps: Vec<Step> = fs::read_dir(dir.join("migrations"))
            .expect("the corpus steps")
            .map(|entry| entry.expect("a corpus step").path())
            .map(|path| Step {
                stem: stem(&path),
                source: Source::Sql(fs::read_to_string(&path).expect("a SQL step")),
            })
            .collect();
        for line in components
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        {
            let (stem, crate_dir) = line.split_once(' ').expect("`NNN_slug plugin/crate`");
            let reference = fs::read_to_string(dir.join("reference").join(format!("{stem}.sql")))
                .expect("the SQL a component step stands in for");
            steps.push(Step {
                stem: stem.to_owned(),
                source: Source::Component {
                    crate_dir: crate_dir.trim().to_owned(),
                    reference,
                },
            });
        }
        steps.sort_by(|a, b| a.stem.cmp(&b.stem));
        Corpus { dir, header, steps }
    }

    /// The number of steps.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// True when the history has no step.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The module's name.
    pub fn module(&self) -> String {
        self.header_field("name")
    }

    /// The version the header declares.
    pub fn version(&self) -> String {
        self.header_field("version")
    }

    /// The quoted value of a `field = "…"` line of the header.
    fn header_field(&self, field: &str) -> String {
        let line = self
            .header
            .lines()
            .find(|l| l.split_whitespace().next() == Some(field))
            .unwrap_or_else(|| panic!("a {field} in the header"));
        line.split('"').nth(1).expect("a quoted value").to_owned()
    }

    /// Writes the package of the first `count` steps into `sandbox`, its header declaring
    /// `version`.
    pub fn write_package(&self, sandbox: &Sandbox, count: usize, version: &str) {
        let mut module = sandbox
            .module(&self.module(), version)
            .header(&self.header)
            .version(version);
        for step in &self.steps[..count] {
            module = match &step.source {
                Source::Sql(text) => module.sql_step(&step.stem, text),
                Source::Component { crate_dir, .. } => module.step(&step.stem, crate_dir),
            };
        }
        module.write();
    }

    /// Builds every step into the sandbox's (empty) database with the database's own client
    /// (`sqlite3`, `psql`, `mariadb`), file by file as the application would.
    pub fn build_with_client(&self, sandbox: &Sandbox) {
        for step in &self.steps {
            let sql = match &step.source {
                Source::Sql(text) => text,
                Source::Component { reference, .. } => reference,
            };
            let mut command = client(sandbox, sql);
            let mut child = command
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("the database's client starts: {e}"));
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(sql.as_bytes())
                .expect("the step reaches the client");
            let out = child.wait_with_output().expect("the client finishes");
            assert!(
                out.status.success(),
                "the client failed on {} of {}: {}",
                step.stem,
                self.dir.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .expect("a file name")
        .to_string_lossy()
        .into_owned()
}

/// The client command that runs a script read from stdin against the sandbox's database.
fn client(sandbox: &Sandbox, sql: &str) -> Command {
    let url = sandbox.database_url();
    match sandbox.backend() {
        Backend::Sqlite => {
            let mut command = Command::new("sqlite3");
            command
                .arg("-bail")
                .arg(url.trim_start_matches("sqlite://"));
            command
        }
        Backend::Postgres => {
            let mut command = Command::new("psql");
            command.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &url]);
            // A step that cannot run in a transaction (CREATE INDEX CONCURRENTLY) runs
            // statement by statement; the others as one transaction, as wasmig runs them.
            if !sql.trim_start().starts_with("-- wasmig:no-transaction") {
                command.arg("--single-transaction");
            }
            command
        }
        Backend::MySql => {
            let rest = url.trim_start_matches("mysql://");
            let (credentials, rest) = rest.split_once('@').expect("user@host in the URL");
            let (address, database) = rest.split_once('/').expect("a database in the URL");
            let (host, port) = address.split_once(':').unwrap_or((address, "3306"));
            let (user, password) = credentials.split_once(':').unwrap_or((credentials, ""));
            let mut command = Command::new("mariadb");
            command
                .arg(format!("--host={host}"))
                .arg(format!("--port={port}"))
                .arg(format!("--user={user}"))
                .arg(database);
            if !password.is_empty() {
                command.env("MYSQL_PWD", password);
            }
            command
        }
    }
}
