//! One module per subcommand.

use std::process::ExitCode;

pub mod admin;
pub mod sandbox_check;
pub mod serve;
pub mod transcode;

/// The async runtime a subcommand runs on, from `builder` (multi- or
/// current-thread). A runtime that cannot start is reported here, once for
/// every subcommand, and becomes exit status 1.
pub fn runtime(mut builder: tokio::runtime::Builder) -> Result<tokio::runtime::Runtime, ExitCode> {
    builder.enable_all().build().map_err(|err| {
        eprintln!("error: cannot start the async runtime: {err}");
        ExitCode::from(1)
    })
}
