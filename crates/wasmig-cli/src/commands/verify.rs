//! `wasmig verify`: checks packages without a database, and with `--paths` that installing and
//! upgrading end with the same schema.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use wasmig_engine::{
    Limits, PathsReport, Runtime, ScratchServer, Verification, verify_package, verify_paths,
};

use crate::options::Target;
use crate::output;

// The packages to check.
#[derive(Debug, Args)]
pub struct Verify {
    /// Module directories (each holding a module.toml).
    #[arg(required = true, value_name = "DIR")]
    packages: Vec<PathBuf>,
    /// Also installs each package fresh, and from every earlier version its steps imply
    /// upgrades it, each on a scratch database, and compares the schemas object by object
    /// (tables, columns, keys, indexes, constraints, views, triggers).
    #[arg(long)]
    paths: bool,
    /// With --paths: a PostgreSQL or MariaDB/MySQL database whose server may create (and drop)
    /// the scratch databases (default: SQLite files in a temporary directory).
    #[arg(long, value_name = "URL", requires = "paths")]
    scratch: Option<String>,
    /// Prints JSON instead of text.
    #[arg(long)]
    json: bool,
}

impl Verify {
    pub async fn execute(self, target: &Target) -> anyhow::Result<ExitCode> {
        let runtime = Runtime::new(Limits::default())?;
        let mut results = Vec::new();
        for dir in &self.packages {
            results.push(verify_package(&runtime, dir).await);
        }
        let mut reports = Vec::new();
        if self.paths {
            let server = self
                .scratch
                .clone()
                .map_or(ScratchServer::Sqlite, ScratchServer::Server);
            for dir in &self.packages {
                reports.push(verify_paths(dir, &server, target.component_cache()?).await?);
            }
        }
        self.print(&results, &reports)?;
        let passed =
            results.iter().all(Verification::passed) && reports.iter().all(PathsReport::passed);
        Ok(if passed {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }

    fn print(&self, results: &[Verification], reports: &[PathsReport]) -> anyhow::Result<()> {
        let mut stdout = std::io::stdout().lock();
        if self.json {
            if self.paths {
                output::json(
                    &mut stdout,
                    &serde_json::json!({ "packages": results, "paths": reports }),
                )?;
            } else {
                output::json(&mut stdout, &results)?;
            }
            return Ok(());
        }
        for result in results {
            output::verification(&mut stdout, result)?;
        }
        for report in reports {
            output::paths(&mut stdout, report)?;
        }
        Ok(())
    }
}
