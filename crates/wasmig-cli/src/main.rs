//! The `wasmig` binary: see the library for the commands.

fn main() -> std::process::ExitCode {
    wasmig_cli::main()
}
