//! The `wirebench` binary: see `wirebench --help`.

fn main() -> std::process::ExitCode {
    wirebench::cli::main()
}
