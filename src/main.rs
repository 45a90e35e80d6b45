//! The `standby` binary: everything happens in `standby::cli`.

fn main() -> std::process::ExitCode {
    standby::cli::main()
}
