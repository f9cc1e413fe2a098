//! What every sandboxed media child (`transcode-job`, `storyboard-job`) is
//! started with, both sides of it: the parent builds the command
//! ([`Confinement::command`]: its own executable, the limits, its pid, an
//! empty environment, piped stdio) and the child reads the same flags back
//! and confines itself ([`Confinement::enter`]) before touching the file.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::Duration;

use tokio::process::Command;

use super::child::{confine, log_format};
use super::sandbox::{self, Limits};
use crate::config::LogFormat;

#[derive(clap::Args, Debug, Clone)]
pub struct Confinement {
    /// The private file the job works on; the only file it may read.
    #[arg(long)]
    pub source: PathBuf,
    /// Address-space limit for this process, in bytes.
    #[arg(long)]
    pub memory_limit: u64,
    /// CPU-time limit for this process, in seconds.
    #[arg(long)]
    pub cpu_seconds: u64,
    /// The parent's pid: the job exits if it is not its parent any more.
    #[arg(long)]
    pub parent_pid: u32,
    /// `plain` or `json`, as the server logs.
    #[arg(long, default_value = "plain")]
    pub log_format: String,
}

impl Confinement {
    /// A child of this process on `source`, with `timeout` of wall time on
    /// every core as its CPU-time limit.
    pub fn new(source: &Path, memory_limit: u64, timeout: Duration, logs: LogFormat) -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
        Self {
            source: source.to_path_buf(),
            memory_limit,
            cpu_seconds: timeout.as_secs().saturating_mul(cpus).max(1),
            parent_pid: std::process::id(),
            log_format: match logs {
                LogFormat::Json => "json",
                LogFormat::Plain => "plain",
            }
            .into(),
        }
    }

    /// `sealcast {subcommand}` with these flags; the caller adds its own.
    /// Nothing of the server's environment goes along (no database URL, no
    /// storage credentials, no secret file names), only the log filter.
    pub fn command(&self, subcommand: &str) -> std::io::Result<Command> {
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.arg(subcommand)
            .arg("--source")
            .arg(&self.source)
            .args(["--memory-limit", &self.memory_limit.to_string()])
            .args(["--cpu-seconds", &self.cpu_seconds.to_string()])
            .args(["--parent-pid", &self.parent_pid.to_string()])
            .args(["--log-format", &self.log_format]);
        cmd.env_clear();
        if let Ok(filter) = std::env::var("RUST_LOG") {
            cmd.env("RUST_LOG", filter);
        }
        cmd.current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        Ok(cmd)
    }

    /// In the child: logs as the parent does, then the sandbox, before
    /// anything reads the file. `Err` is the exit code to leave with.
    pub fn enter(&self) -> Result<(), ExitCode> {
        crate::telemetry::init(log_format(&self.log_format));
        let limits = Limits {
            memory_bytes: self.memory_limit,
            cpu_seconds: self.cpu_seconds,
            open_files: sandbox::MEDIA_OPEN_FILES,
        };
        confine(self.parent_pid, &self.source, limits)
    }
}
