//! The command line: `serve`, `transcode`, and friends.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands;
use crate::config::ServeArgs;

#[derive(Parser, Debug)]
#[command(
    name = "sealcast",
    version,
    about = "A secure video server: encrypted HLS, a key server, signed URLs"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (edge, key server and workers in one process by default).
    Serve(ServeArgs),
    /// Operator tasks: create users, rotate the signing and master keys, backfill storyboards.
    Admin(commands::admin::AdminArgs),
    /// Package a video file as AES-128 encrypted HLS into a directory, offline.
    Transcode(commands::transcode::TranscodeArgs),
    /// Run one server transcode job (started by a worker; not for people).
    #[command(hide = true)]
    TranscodeJob(crate::jobs::child::TranscodeJobArgs),
    /// Make one video's storyboard from its decrypted rendition (started by a backfill; not for people).
    #[command(hide = true)]
    StoryboardJob(crate::storyboards::child::StoryboardJobArgs),
    /// Check that an uploaded file is a video (started by the server; not for people).
    #[command(hide = true)]
    ProbeUpload(crate::uploads::probe::ProbeUploadArgs),
    /// Show what the media sandbox forbids on this kernel (for tests and operators).
    #[command(hide = true)]
    SandboxCheck(commands::sandbox_check::SandboxCheckArgs),
}

/// Parses the command line and runs the command; clap exits 2 on bad flags.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => commands::serve::run(args),
        Command::Admin(args) => commands::admin::run(args),
        Command::Transcode(args) => commands::transcode::run(args),
        Command::TranscodeJob(args) => crate::jobs::child::run(args),
        Command::StoryboardJob(args) => crate::storyboards::child::run(args),
        Command::ProbeUpload(args) => crate::uploads::probe::run_child(args),
        Command::SandboxCheck(args) => commands::sandbox_check::run(args),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
