//! One job's child process, from the worker's side: fetch the upload into a
//! private work dir, start the sandboxed child with an empty environment,
//! store what it sends, renew the lease, and kill it on timeout, lease loss
//! or shutdown.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use futures::StreamExt;
use tokio::io::{AsyncBufRead, AsyncWriteExt, BufReader};
use tokio::process::Child;
use tokio_util::sync::CancellationToken;

use super::confinement::Confinement;
use super::protocol::{self, Frame, JobDone, JobFailed};
use super::queue::{self, ClaimedJob};
use super::sink::JobOutputs;
use super::workdir::WorkDir;
use super::JobSettings;
use crate::app::App;
use crate::storage::{ObjectKey, ObjectStore};

/// How a job's process ended.
pub(super) enum Outcome {
    Done(JobDone),
    Failed(JobFailed),
    Crashed(String),
    TimedOut,
    LeaseLost,
    Shutdown,
}

/// A child that said its last word gets this long to exit.
const EXIT_GRACE: Duration = Duration::from_secs(10);

/// Runs one claimed job to an outcome; the work dir (and with it the copy
/// of the upload) is gone when this returns, whichever way it ends.
pub(super) async fn run(
    app: &App,
    settings: &JobSettings,
    owner: &str,
    job: &ClaimedJob,
    source_key: &str,
    shutdown: &CancellationToken,
) -> Outcome {
    let root = app.config.data_dir.join("work");
    let name = format!("job-{}-{}", job.video_id, crate::db::new_id());
    let work = match tokio::task::spawn_blocking(move || WorkDir::create(&root, &name)).await {
        Ok(Ok(work)) => work,
        Ok(Err(err)) => return Outcome::Crashed(format!("cannot create a work dir: {err}")),
        Err(err) => return Outcome::Crashed(err.to_string()),
    };
    let source = work.path().join("source");
    if let Err((message, retryable)) = download(app.storage.as_ref(), source_key, &source).await {
        return Outcome::Failed(JobFailed {
            kind: "storage".into(),
            message: format!("cannot read the upload: {message}"),
            bad_media: false,
            retryable,
        });
    }
    let outcome = match spawn_child(app, settings, job, &source) {
        Ok(child) => supervise(app, settings, owner, job, child, shutdown).await,
        Err(err) => Outcome::Crashed(format!("cannot start the transcoder process: {err}")),
    };
    // A large copy can take a moment to unlink; not on a runtime thread.
    let _ = tokio::task::spawn_blocking(move || drop(work)).await;
    outcome
}

/// Streams the upload to a local file (the transcoder needs random access).
async fn download(store: &dyn ObjectStore, key: &str, path: &Path) -> Result<(), (String, bool)> {
    let key = ObjectKey::new(key).map_err(|e| (e.to_string(), false))?;
    let body = store.get(&key, None).await.map_err(|e| {
        let transient = e.is_transient();
        (e.to_string(), transient)
    })?;
    let io = |e: std::io::Error| (e.to_string(), true);
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .await
        .map_err(io)?;
    let mut stream = body.stream;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| (e.to_string(), true))?;
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.flush().await.map_err(io)
}

fn spawn_child(
    app: &App,
    settings: &JobSettings,
    job: &ClaimedJob,
    source: &Path,
) -> std::io::Result<Child> {
    let rungs: Vec<String> = settings.rungs.iter().map(u32::to_string).collect();
    let master_public =
        base64::engine::general_purpose::STANDARD.encode(app.master_public.as_bytes());
    let confinement = Confinement::new(
        source,
        settings.memory_limit,
        settings.timeout,
        app.config.log_format,
    );
    let mut cmd = confinement.command("transcode-job")?;
    cmd.arg(&job.video_id)
        .args(["--master-public-key", &master_public])
        .args(["--job-rungs", &rungs.join(",")])
        .args([
            "--job-segment-seconds",
            &settings.segment_seconds.to_string(),
        ])
        .args(["--job-rotate-every", &settings.rotate_every.to_string()])
        .args(["--job-preset", &settings.preset]);
    cmd.spawn()
}

/// How the child's output stream ended.
enum Ended {
    Done(JobDone),
    Failed(JobFailed),
    /// Stdout closed without a last word.
    Silent,
    /// The child broke the protocol: kill it.
    Broken(String),
    /// Storing its outputs failed: kill it, retry later.
    Store(String),
}

/// Stores what the child sends until its last word.
async fn pump<R: AsyncBufRead + Unpin>(
    app: &App,
    job: &ClaimedJob,
    reader: &mut R,
    outputs: &mut JobOutputs,
) -> Ended {
    let mut last_percent = -1i64;
    loop {
        let frame = match protocol::read(reader).await {
            Ok(Some(frame)) => frame,
            Ok(None) => return Ended::Silent,
            Err(err) => return Ended::Broken(err.to_string()),
        };
        let stored = match frame {
            Frame::Progress(p) => {
                let percent = (f64::from(p.clamp(0.0, 1.0)) * 100.0) as i64;
                if percent != last_percent {
                    last_percent = percent;
                    let _ = queue::set_progress(&app.db, &job.video_id, percent.min(99)).await;
                }
                Ok(())
            }
            Frame::Key { key_id, sealed } => outputs.key(&key_id, &sealed).await,
            Frame::Put { path, bytes } => outputs.put(&path, bytes).await,
            Frame::Done(done) => {
                return match outputs.finish().await {
                    Ok(()) => Ended::Done(done),
                    Err(err) => Ended::Store(err),
                }
            }
            Frame::Failed(failed) => return Ended::Failed(failed),
        };
        if let Err(err) = stored {
            return Ended::Store(err);
        }
    }
}

async fn supervise(
    app: &App,
    settings: &JobSettings,
    owner: &str,
    job: &ClaimedJob,
    mut child: Child,
    shutdown: &CancellationToken,
) -> Outcome {
    let stdout = child.stdout.take().expect("piped stdout");
    let mut reader = BufReader::new(stdout);
    let mut outputs = JobOutputs::new(
        Arc::clone(&app.storage),
        app.db.clone(),
        job.video_id.clone(),
        &app.master_public,
    );
    let mut heartbeat = tokio::time::interval(settings.lease / 3);
    heartbeat.tick().await;
    let deadline = tokio::time::sleep(settings.timeout);
    tokio::pin!(deadline);
    let ended = {
        let pump = pump(app, job, &mut reader, &mut outputs);
        tokio::pin!(pump);
        loop {
            tokio::select! {
                ended = &mut pump => break ended,
                _ = heartbeat.tick() => {
                    if !queue::heartbeat(&app.db, job, owner, settings.lease).await.unwrap_or(true) {
                        let _ = child.kill().await;
                        return Outcome::LeaseLost;
                    }
                }
                _ = &mut deadline => {
                    let _ = child.kill().await;
                    return Outcome::TimedOut;
                }
                _ = shutdown.cancelled() => {
                    let _ = child.kill().await;
                    return Outcome::Shutdown;
                }
            }
        }
    };
    let result = match ended {
        Ended::Done(done) => Some(Outcome::Done(done)),
        Ended::Failed(failed) => Some(Outcome::Failed(failed)),
        Ended::Silent => None,
        Ended::Broken(reason) => {
            let _ = child.kill().await;
            return Outcome::Crashed(reason);
        }
        Ended::Store(reason) => {
            let _ = child.kill().await;
            return Outcome::Failed(JobFailed {
                kind: "storage".into(),
                message: reason,
                bad_media: false,
                retryable: true,
            });
        }
    };
    let status = match tokio::time::timeout(EXIT_GRACE, child.wait()).await {
        Ok(status) => status,
        Err(_) => {
            let _ = child.kill().await;
            return Outcome::Crashed("the transcoder process did not exit".into());
        }
    };
    match (result, status) {
        (Some(Outcome::Done(done)), Ok(status)) if status.success() => Outcome::Done(done),
        (Some(Outcome::Failed(failed)), _) => Outcome::Failed(failed),
        (_, Ok(status)) => {
            use std::os::unix::process::ExitStatusExt;
            match status.signal() {
                Some(signal) => Outcome::Crashed(format!(
                    "the transcoder process was killed by signal {signal}"
                )),
                None => Outcome::Crashed(format!("the transcoder process exited with {status}")),
            }
        }
        (_, Err(err)) => Outcome::Crashed(err.to_string()),
    }
}
