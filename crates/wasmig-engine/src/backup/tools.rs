//! The servers' own dump tools (`pg_dump`/`psql`, `mysqldump`/`mysql`), for backups of
//! PostgreSQL and MySQL/MariaDB databases. They run as child processes against the URL the
//! database was opened with; a MySQL password goes through the environment, never the command
//! line.

use std::path::Path;
use std::process::{Command, Stdio};

use wasmig_db::{Database, Dialect};

use crate::{Error, Result};

/// Writes the schema and rows of `tables` (names in the database's home schema) to `file` as
/// a SQL script, with the server's dump tool.
pub(super) async fn dump_tables(db: &Database, tables: &[String], file: &Path) -> Result<()> {
    let mut command = match db.dialect() {
        Dialect::Postgres => {
            let mut command = Command::new("pg_dump");
            command
                .arg(format!("--dbname={}", db.url()))
                .args(["--no-owner", "--no-privileges", "--format=plain"])
                .arg(format!("--file={}", file.display()));
            for table in tables {
                command.arg(format!("--table=\"{}\"", table.replace('"', "\"\"")));
            }
            command
        }
        Dialect::MySql => {
            let mut command = mysql_command("mysqldump", db.url())?;
            command
                .args([
                    "--single-transaction",
                    "--skip-add-locks",
                    "--no-tablespaces",
                ])
                .arg(format!("--result-file={}", file.display()))
                .arg("--")
                .arg(mysql_database(db.url())?)
                .args(tables);
            command
        }
        Dialect::Sqlite => return Err(Error::Backup("SQLite has no dump tool here".into())),
    };
    run(command.stdin(Stdio::null())).await
}

/// Runs the SQL script `file` with the server's client (`psql` in one transaction that stops
/// at the first error; `mysql`, where DDL commits as it goes).
pub(super) async fn run_script(db: &Database, file: &Path) -> Result<()> {
    let mut command = match db.dialect() {
        Dialect::Postgres => {
            let mut command = Command::new("psql");
            command
                .arg(format!("--dbname={}", db.url()))
                .args(["--quiet", "--single-transaction", "--set=ON_ERROR_STOP=1"])
                .arg(format!("--file={}", file.display()));
            command.stdin(Stdio::null());
            command
        }
        Dialect::MySql => {
            let mut command = mysql_command("mysql", db.url())?;
            command.arg(mysql_database(db.url())?);
            let script = std::fs::File::open(file)
                .map_err(|e| Error::Backup(format!("cannot read {}: {e}", file.display())))?;
            command.stdin(script);
            command
        }
        Dialect::Sqlite => return Err(Error::Backup("SQLite has no client tool here".into())),
    };
    run(&mut command).await
}

/// `mysqldump` or `mysql` with the host, port and user of `url`; its password in `MYSQL_PWD`.
fn mysql_command(program: &str, url: &str) -> Result<Command> {
    let parsed = parse(url)?;
    let mut command = Command::new(program);
    command
        .arg(format!(
            "--host={}",
            parsed.host_str().unwrap_or("localhost")
        ))
        .arg(format!("--port={}", parsed.port().unwrap_or(3306)))
        .arg(format!("--user={}", parsed.username()));
    if let Some(password) = parsed.password() {
        command.env("MYSQL_PWD", password);
    }
    Ok(command)
}

fn mysql_database(url: &str) -> Result<String> {
    let parsed = parse(url)?;
    let database = parsed.path().trim_start_matches('/');
    if database.is_empty() {
        return Err(Error::Backup(format!("`{url}` names no database")));
    }
    Ok(database.to_owned())
}

fn parse(url: &str) -> Result<url::Url> {
    url::Url::parse(url).map_err(|e| Error::Backup(format!("cannot read the URL `{url}`: {e}")))
}

/// Runs `command` off the async threads; its stderr becomes the error.
async fn run(command: &mut Command) -> Result<()> {
    let program = command.get_program().to_string_lossy().into_owned();
    command.stdout(Stdio::null()).stderr(Stdio::piped());
    let child = command
        .spawn()
        .map_err(|e| Error::Backup(format!("cannot start {program}: {e}")))?;
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .map_err(|e| Error::Backup(format!("{program}: {e}")))?
        .map_err(|e| Error::Backup(format!("{program}: {e}")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(Error::Backup(format!(
            "{program} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}
