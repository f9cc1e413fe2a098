//! The `sealcast` binary: parses the command line and hands off to the library.
use std::process::ExitCode;

fn main() -> ExitCode {
    sealcast::cli::main()
}
