//! The check at an upload's last byte: is this a video at all?
//!
//! On local disk the object is probed in place; on S3 through a sparse local
//! file holding only its head and tail (where containers keep their headers
//! and indexes), so it costs a few dozen MiB of disk and no memory however
//! large the upload. The probe runs in a child process (`sealcast probe-upload`) under a memory and time
//! limit, sandboxed like a transcode job ([`crate::jobs::sandbox`]): it
//! can read that one file and nothing else of the data dir, and has no
//! network. The sparse copy lives in a locked [`WorkDir`], gone on drop and
//! swept if the server is killed.

use std::io::Write;
use std::path::Path;
use std::process::{ExitCode, Stdio};
use std::time::Duration;

use futures::StreamExt;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use crate::jobs::sandbox::{self, Limits, Policy};
use crate::jobs::workdir::WorkDir;
use crate::storage::{ByteRange, ObjectKey, ObjectStore, StorageError};

/// Bytes read from the start and from the end of the object.
const HEAD_BYTES: u64 = 16 * 1024 * 1024;
const TAIL_BYTES: u64 = 32 * 1024 * 1024;
const PROBE_TIMEOUT: Duration = Duration::from_secs(60);
const PROBE_MEMORY: u64 = 1024 * 1024 * 1024;

/// Why an upload was refused, or why the probe could not run.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The content is not a video we can transcode; the message is for the user.
    #[error("{0}")]
    NotVideo(String),
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    #[error("probe: {0}")]
    Failed(String),
}

/// Probes `key` (of `size` bytes), copying in a dir under `work_dir` when the
/// store is not local; returns the duration in seconds.
pub async fn probe_object(
    store: &dyn ObjectStore,
    key: &ObjectKey,
    size: u64,
    work_dir: &Path,
) -> Result<f64, ProbeError> {
    // On local disk the object is probed in place; elsewhere through a
    // sparse copy of its head and tail.
    let (_work, path) = match store.local_path(key) {
        Some(path) => (None, path),
        None => {
            let work = private_work_dir(work_dir).await?;
            let path = work.path().join("sparse");
            sparse_copy(store, key, size, &path).await?;
            (Some(work), path)
        }
    };
    let exe = std::env::current_exe().map_err(|e| ProbeError::Failed(e.to_string()))?;
    let child = tokio::process::Command::new(exe)
        .arg("probe-upload")
        .arg(&path)
        .arg("--memory-limit")
        .arg(PROBE_MEMORY.to_string())
        .arg("--cpu-seconds")
        .arg(PROBE_TIMEOUT.as_secs().to_string())
        .arg("--parent-pid")
        .arg(std::process::id().to_string())
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| ProbeError::Failed(format!("cannot start the probe: {e}")))?;
    let out = tokio::time::timeout(PROBE_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| ProbeError::NotVideo("the file took too long to examine".into()))?
        .map_err(|e| ProbeError::Failed(e.to_string()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default().trim();
    match out.status.code() {
        Some(0) => line
            .strip_prefix("ok ")
            .and_then(|d| d.parse::<f64>().ok())
            .ok_or_else(|| ProbeError::Failed(format!("unexpected probe output `{line}`"))),
        Some(EXIT_NOT_VIDEO) => Err(ProbeError::NotVideo(
            line.strip_prefix("not-video ")
                .unwrap_or("not a video")
                .to_string(),
        )),
        Some(code) if code == i32::from(EXIT_NO_SANDBOX) => Err(ProbeError::Failed(
            "the probe could not sandbox itself".into(),
        )),
        _ => Err(ProbeError::NotVideo(
            "the file could not be read as a video".into(),
        )),
    }
}

async fn private_work_dir(root: &Path) -> Result<WorkDir, ProbeError> {
    let root = root.to_path_buf();
    let name = format!("probe-{}", crate::db::new_id());
    match tokio::task::spawn_blocking(move || WorkDir::create(&root, &name)).await {
        Ok(Ok(work)) => Ok(work),
        Ok(Err(err)) => Err(ProbeError::Failed(err.to_string())),
        Err(err) => Err(ProbeError::Failed(err.to_string())),
    }
}

async fn sparse_copy(
    store: &dyn ObjectStore,
    key: &ObjectKey,
    size: u64,
    path: &Path,
) -> Result<(), ProbeError> {
    let io = |e: std::io::Error| ProbeError::Failed(e.to_string());
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .await
        .map_err(io)?;
    file.set_len(size).await.map_err(io)?;
    if size > 0 {
        let head_end = size.min(HEAD_BYTES) - 1;
        copy_range(store, key, &mut file, 0, head_end).await?;
        let tail_start = size.saturating_sub(TAIL_BYTES).max(head_end + 1);
        if tail_start < size {
            copy_range(store, key, &mut file, tail_start, size - 1).await?;
        }
    }
    file.flush().await.map_err(io)
}

async fn copy_range(
    store: &dyn ObjectStore,
    key: &ObjectKey,
    file: &mut tokio::fs::File,
    start: u64,
    end: u64,
) -> Result<(), ProbeError> {
    let body = store
        .get(
            key,
            Some(ByteRange {
                start,
                end: Some(end),
            }),
        )
        .await?;
    file.seek(std::io::SeekFrom::Start(start))
        .await
        .map_err(|e| ProbeError::Failed(e.to_string()))?;
    let mut stream = body.stream;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(StorageError::Body)?;
        file.write_all(&chunk)
            .await
            .map_err(|e| ProbeError::Failed(e.to_string()))?;
    }
    Ok(())
}

/// Exit status of `probe-upload` for content that is not a usable video.
pub const EXIT_NOT_VIDEO: i32 = 10;

/// `sealcast probe-upload FILE`: the child side. Prints `ok <seconds>` or
/// `not-video <reason>`.
#[derive(clap::Args, Debug)]
pub struct ProbeUploadArgs {
    pub path: std::path::PathBuf,
    /// Address-space limit for this process, in bytes.
    #[arg(long)]
    pub memory_limit: u64,
    /// CPU-time limit for this process, in seconds.
    #[arg(long)]
    pub cpu_seconds: u64,
    /// The server's pid: the probe exits if it is not its parent any more.
    #[arg(long)]
    pub parent_pid: u32,
}

/// Exit status of `probe-upload` when it could not sandbox itself.
const EXIT_NO_SANDBOX: u8 = 12;

pub fn run_child(args: ProbeUploadArgs) -> ExitCode {
    crate::telemetry::init(crate::config::LogFormat::Plain);
    if sandbox::die_with_parent(args.parent_pid).is_err() {
        return ExitCode::from(EXIT_NO_SANDBOX);
    }
    let policy = Policy {
        read_files: vec![args.path.clone()],
        limits: Limits {
            memory_bytes: args.memory_limit,
            cpu_seconds: args.cpu_seconds,
            open_files: sandbox::MEDIA_OPEN_FILES,
        },
    };
    if let Err(err) = sandbox::apply(&policy) {
        tracing::error!(error = %err, "the probe cannot sandbox itself");
        return ExitCode::from(EXIT_NO_SANDBOX);
    }
    let mut out = std::io::stdout().lock();
    match sealcast_transcoder::probe(&args.path) {
        Ok(info) => {
            let _ = writeln!(out, "ok {}", info.duration_seconds);
            ExitCode::SUCCESS
        }
        Err(err) => {
            let reason = err.to_string().replace('\n', " ");
            let _ = writeln!(out, "not-video {reason}");
            ExitCode::from(EXIT_NOT_VIDEO as u8)
        }
    }
}
