fn main() -> std::process::ExitCode {
    wasmig_cli::main()
}
