//! One file per command: its options, and `execute`, which opens the host with the settings
//! the options make and prints what the engine returns.

mod activate;
mod build;
mod deactivate;
mod diff;
mod history;
mod maintenance;
mod new;
mod plan;
mod repair;
mod restore;
mod serve;
mod status;
mod steps;
mod uninstall;
mod verify;

use std::process::ExitCode;

use clap::Subcommand;

use crate::options::Target;

/// The commands of `wasmig`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Shows every module: installed version, header version and what an upgrade would run.
    Status(status::Status),
    /// Shows what `upgrade` would do, without doing it: per module the steps that would run and
    /// the SQL each would send. On SQLite and PostgreSQL the steps run in a transaction that is
    /// rolled back; on MySQL/MariaDB (DDL commits implicitly) only SQL steps are shown, as
    /// written. Exits non-zero if a module would be refused or a step would fail.
    Plan(plan::Plan),
    /// Runs the pending steps of every module, or of the named ones, printing each step as it
    /// runs. Exits non-zero if any module stopped short of its header's version.
    Upgrade(steps::Upgrade),
    /// Replays a step left unfinished (MySQL: a crash, or a failure after DDL committed),
    /// skipping the statements its journal says committed, then runs the module's remaining
    /// steps. Safe when the step sends the same statements again (a step has fixed clocks and
    /// seeded randomness); it stops at the first statement that differs.
    Resume(steps::Resume),
    /// Settles a step left unfinished by hand, once you have checked the schema: record it as
    /// applied (you completed it) or failed (you undid it, so it runs again). Or accepts the
    /// current files of applied steps that changed since they ran.
    Repair(repair::Repair),
    /// Shows every step the ledger recorded, oldest first.
    History(history::History),
    /// Shows what changed in a module's objects (tables, columns, indexes, constraints,
    /// views, triggers) outside its steps since its last upgrade; exits non-zero when
    /// something did. `status` lists the modules that drifted.
    Diff(diff::Diff),
    /// Activates a module: a deactivated one becomes active again, then it is upgraded (its
    /// install path on first activation, its pending steps if it is at an older version).
    Activate(activate::Activate),
    /// Deactivates a module: upgrades leave it alone until `activate`. Its data and stored
    /// version are kept.
    Deactivate(deactivate::Deactivate),
    /// Runs a module's uninstall step (which drops its data) and forgets the module; only for
    /// modules whose package ships uninstall.wasm or uninstall.sql. Asks for --yes.
    Uninstall(uninstall::Uninstall),
    /// Brings the modules of a backup made by `upgrade --backup` back as they were: their
    /// tables (schema and rows) and their ledger rows. Other modules and the application's own
    /// tables are left alone.
    Restore(restore::Restore),
    /// Shows the maintenance flag an embedding application reads, or sets or clears it by hand
    /// (`upgrade --maintenance` sets it while it runs and clears it at the end).
    Maintenance(maintenance::Maintenance),
    /// Serves web pages and an HTTP API over the database and its modules: status, plans,
    /// history, the maintenance flag, and upgrades run as jobs that outlive the request, their
    /// progress streamed live (Server-Sent Events), cancellable at a step boundary. The API
    /// needs the token (`Authorization: Bearer`); the pages need a login with it. Listens on
    /// 127.0.0.1:8080 by default.
    Serve(serve::Serve),
    /// Checks module packages before they are installed: the header, the numbering of the
    /// steps, the checksum list, that every component targets a version of the migration world
    /// this wasmig serves and imports nothing else, that every SQL step reads as statements.
    /// Needs no database. Exits non-zero if a check fails.
    Verify(verify::Verify),
    /// Builds module sources into packages under the modules directory (for module authors):
    /// Rust steps with cargo for wasm32-wasip2 (the target is added with rustup when missing),
    /// SQL steps copied, a checksum list written.
    Build(build::Build),
    /// Creates the sources of a new module that `build` builds as they are: module.toml, an
    /// install step and a first step (Rust in a cargo workspace with the SDK, or --sql).
    New(new::New),
    /// Adds the next numbered step to a module's sources (a Rust crate, or --sql).
    AddStep(new::AddStep),
}

impl Command {
    /// Runs the command against `target`; the exit code says whether it did all it was asked.
    pub async fn execute(self, target: &Target) -> anyhow::Result<ExitCode> {
        match self {
            Command::Status(command) => command.execute(target).await,
            Command::Plan(command) => command.execute(target).await,
            Command::Upgrade(command) => command.execute(target).await,
            Command::Resume(command) => command.execute(target).await,
            Command::Repair(command) => command.execute(target).await,
            Command::History(command) => command.execute(target).await,
            Command::Diff(command) => command.execute(target).await,
            Command::Activate(command) => command.execute(target).await,
            Command::Deactivate(command) => command.execute(target).await,
            Command::Uninstall(command) => command.execute(target).await,
            Command::Restore(command) => command.execute(target).await,
            Command::Maintenance(command) => command.execute(target).await,
            Command::Serve(command) => command.execute(target).await,
            Command::Verify(command) => command.execute(target).await,
            Command::Build(command) => command.execute(target).await,
            Command::New(command) => command.execute(),
            Command::AddStep(command) => command.execute(),
        }
    }
}
