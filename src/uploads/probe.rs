//! The check at an upload's last byte: is this a video at all?
//!
//! On local disk the object is probed in place; on S3 through a sparse local
//! file holding only its head and tail (where containers keep their headers
//! and indexes), so it costs a few dozen MiB of disk and no memory however
//! large the upload. The probe runs in a child process (`sealcast probe-upload`) under a memory and time
//! limit, so a hostile file can hurt only that process.

use std::io::Write;
use std::path::Path;
use std::process::{ExitCode, Stdio};
use std::time::Duration;

use futures::StreamExt;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

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

/// Probes `key` (of `size` bytes) in `work_dir`; returns the duration in seconds.
pub async fn probe_object(
    store: &dyn ObjectStore,
    key: &ObjectKey,
    size: u64,
    work_dir: &Path,
) -> Result<f64, ProbeError> {
    // On local disk the object is probed in place; elsewhere through a
    // sparse copy of its head and tail.
    let sparse;
    let path = match store.local_path(key) {
        Some(path) => path,
        None => {
            sparse = sparse_copy(store, key, size, work_dir).await?;
            sparse.path().to_path_buf()
        }
    };
    let exe = std::env::current_exe().map_err(|e| ProbeError::Failed(e.to_string()))?;
    let child = tokio::process::Command::new(exe)
        .arg("probe-upload")
        .arg(&path)
        .arg("--memory-limit")
        .arg(PROBE_MEMORY.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
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
        _ => Err(ProbeError::NotVideo(
            "the file could not be read as a video".into(),
        )),
    }
}

async fn sparse_copy(
    store: &dyn ObjectStore,
    key: &ObjectKey,
    size: u64,
    work_dir: &Path,
) -> Result<tempfile::NamedTempFile, ProbeError> {
    let io = |e: std::io::Error| ProbeError::Failed(e.to_string());
    crate::storage::private_dir(work_dir).await.map_err(io)?;
    let sparse = tempfile::NamedTempFile::new_in(work_dir).map_err(io)?;
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .open(sparse.path())
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
    file.flush().await.map_err(io)?;
    Ok(sparse)
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
}

pub fn run_child(args: ProbeUploadArgs) -> ExitCode {
    let _ = rlimit::setrlimit(rlimit::Resource::AS, args.memory_limit, args.memory_limit);
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
