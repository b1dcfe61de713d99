//! The `wasmig` command line, as a library so that tests can build it under another name.
//! One file per command under `commands/`; option groups shared by several commands in
//! `options`; what the engine returns is rendered by `output`, with the next command to type
//! added by `hints`.

mod commands;
mod hints;
mod options;
mod output;

use std::process::ExitCode;

use clap::Parser;

use crate::commands::Command;
use crate::options::Target;

/// Runs the database migrations of an application's modules as sandboxed WebAssembly components.
///
/// Each module is a directory `<modules>/<name>/` holding `module.toml` (name, version,
/// host-api), an optional `install.wasm` and `migrations/NNN_slug.wasm` (or `.sql`). wasmig compares each
/// header with the version recorded in the database's ledger and runs what is pending, each
/// step in its own transaction.
#[derive(Debug, Parser)]
#[command(name = "wasmig", version, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    target: Target,

    #[command(subcommand)]
    command: Command,
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
    match runtime.block_on(cli.command.execute(&cli.target)) {
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
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal: a log file or a pipe gets plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
