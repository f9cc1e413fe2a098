//! `sealcast sandbox-check`: puts itself in the media children's sandbox
//! ([`crate::jobs::sandbox::apply`], the same policy a job gets for its
//! source), then tries what the sandbox must forbid and prints one JSON line
//! of what happened. Hidden; for the tests and for an operator who wants to
//! know what this kernel enforces. It can only restrict itself.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;

use crate::jobs::sandbox::{self, Limits, Policy, MEDIA_OPEN_FILES};

#[derive(clap::Args, Debug)]
pub struct SandboxCheckArgs {
    /// The one input the sandbox lets it read, as a job's source.
    #[arg(long)]
    pub allow: PathBuf,
    /// Files to try to read.
    #[arg(long)]
    pub read: Vec<PathBuf>,
    /// Files to try to create.
    #[arg(long)]
    pub create: Vec<PathBuf>,
    /// TCP addresses to try to connect to.
    #[arg(long)]
    pub connect: Vec<String>,
    /// Unix socket paths to try to connect to.
    #[arg(long)]
    pub connect_unix: Vec<PathBuf>,
    /// Programs to try to start.
    #[arg(long)]
    pub exec: Vec<PathBuf>,
    /// Try the same without the sandbox (the control).
    #[arg(long)]
    pub no_sandbox: bool,
}

fn outcome<T>(result: std::io::Result<T>) -> serde_json::Value {
    match result {
        Ok(_) => json!("ok"),
        Err(err) => json!(err.to_string()),
    }
}

pub fn run(args: SandboxCheckArgs) -> ExitCode {
    crate::telemetry::init(crate::config::LogFormat::Plain);
    let applied = if args.no_sandbox {
        serde_json::Value::Null
    } else {
        let policy = Policy {
            read_files: vec![args.allow.clone()],
            limits: Limits {
                memory_bytes: crate::jobs::JobSettings::default().memory_limit,
                cpu_seconds: 60,
                open_files: MEDIA_OPEN_FILES,
            },
        };
        match sandbox::apply(&policy) {
            Ok(applied) => json!(applied),
            Err(err) => {
                eprintln!("error: {err}");
                return ExitCode::from(1);
            }
        }
    };
    let mut tries = Vec::new();
    let mut record = |op: &str, target: String, result: serde_json::Value| {
        tries.push(json!({ "op": op, "target": target, "result": result }));
    };
    for path in std::iter::once(&args.allow).chain(&args.read) {
        record(
            "read",
            path.display().to_string(),
            outcome(std::fs::read(path)),
        );
    }
    for path in &args.create {
        record(
            "create",
            path.display().to_string(),
            outcome(std::fs::write(path, b"x")),
        );
    }
    for addr in &args.connect {
        record(
            "connect",
            addr.clone(),
            outcome(std::net::TcpStream::connect(addr)),
        );
    }
    for path in &args.connect_unix {
        record(
            "connect_unix",
            path.display().to_string(),
            outcome(std::os::unix::net::UnixStream::connect(path)),
        );
    }
    for program in &args.exec {
        record(
            "exec",
            program.display().to_string(),
            outcome(std::process::Command::new(program).status()),
        );
    }
    println!("{}", json!({ "applied": applied, "tries": tries }));
    ExitCode::SUCCESS
}
