//! The worker pool: claim a job, run it in a child process under limits,
//! renew the lease while it runs, and record the outcome.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::child::{JobDone, JobFailed};
use super::queue::{self, ClaimedJob};
use super::sink::discard_outputs;
use super::JobSettings;
use crate::app::App;
use crate::config::StorageConfig;
use crate::storage::ObjectKey;
use crate::videos::layout;

/// Starts `settings.workers` workers; they stop when `shutdown` is cancelled,
/// killing their children and handing their jobs back to the queue.
pub fn spawn(app: Arc<App>, shutdown: CancellationToken) -> Vec<JoinHandle<()>> {
    let settings = app.config.jobs.clone();
    (0..settings.workers)
        .map(|index| {
            let owner = format!("{}-{}-{}", std::process::id(), index, crate::db::new_id());
            tokio::spawn(worker_loop(
                app.clone(),
                settings.clone(),
                owner,
                shutdown.clone(),
            ))
        })
        .collect()
}

async fn worker_loop(
    app: Arc<App>,
    settings: JobSettings,
    owner: String,
    shutdown: CancellationToken,
) {
    while !shutdown.is_cancelled() {
        match queue::claim(&app.db, &owner, settings.lease).await {
            Ok(Some(job)) => {
                tracing::info!(job_id = %job.id, video_id = %job.video_id, attempt = job.attempts, "transcode started");
                if let Err(err) = run_job(&app, &settings, &owner, &job, &shutdown).await {
                    tracing::error!(job_id = %job.id, error = %err, "recording the job outcome failed");
                }
            }
            Ok(None) => {
                tokio::select! {
                    _ = tokio::time::sleep(settings.poll) => {}
                    _ = shutdown.cancelled() => {}
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "claiming a job failed");
                tokio::select! {
                    _ = tokio::time::sleep(settings.poll * 5) => {}
                    _ = shutdown.cancelled() => {}
                }
            }
        }
    }
}

enum Outcome {
    Done(JobDone),
    Failed(JobFailed),
    Crashed(String),
    TimedOut,
    LeaseLost,
    Shutdown,
}

async fn source_key(app: &App, video_id: &str) -> Result<String, sqlx::Error> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT storage_key FROM uploads WHERE video_id = $1")
            .bind(video_id)
            .fetch_optional(&app.db.pool)
            .await?;
    Ok(row
        .map(|r| r.0)
        .unwrap_or_else(|| layout::upload_source_key(video_id)))
}

async fn run_job(
    app: &App,
    settings: &JobSettings,
    owner: &str,
    job: &ClaimedJob,
    shutdown: &CancellationToken,
) -> Result<(), sqlx::Error> {
    let source = source_key(app, &job.video_id).await?;
    let source_exists = match ObjectKey::new(source.clone()) {
        Ok(key) => app.storage.head(&key).await.map(|m| m.is_some()),
        Err(_) => Ok(false),
    };
    match source_exists {
        Ok(true) => {}
        Ok(false) => {
            return queue::fail(&app.db, job, "the uploaded file is missing from storage").await
        }
        Err(err) => {
            return queue::retry_later(&app.db, job, &err.to_string(), queue::backoff(job.attempts))
                .await
        }
    }
    let outcome = match spawn_child(app, settings, job, &source) {
        Ok(child) => supervise(app, settings, owner, job, child, shutdown).await,
        Err(err) => Outcome::Crashed(format!("cannot start the transcoder process: {err}")),
    };
    record(app, settings, job, &source, outcome).await
}

fn storage_env(storage: &StorageConfig) -> Vec<(&'static str, String)> {
    match storage {
        StorageConfig::File { root } => {
            vec![("SEALCAST_STORAGE", format!("file://{}", root.display()))]
        }
        StorageConfig::S3 {
            bucket,
            prefix,
            endpoint,
            region,
            part_size,
        } => {
            let mut env = vec![
                ("SEALCAST_STORAGE", format!("s3://{bucket}/{prefix}")),
                ("SEALCAST_S3_REGION", region.clone()),
                (
                    "SEALCAST_S3_PART_SIZE_MIB",
                    (part_size / (1024 * 1024)).to_string(),
                ),
            ];
            if let Some(endpoint) = endpoint {
                env.push(("SEALCAST_S3_ENDPOINT", endpoint.clone()));
            }
            env
        }
    }
}

fn spawn_child(
    app: &App,
    settings: &JobSettings,
    job: &ClaimedJob,
    source: &str,
) -> std::io::Result<Child> {
    let exe = std::env::current_exe()?;
    let config = &app.config;
    let rungs: Vec<String> = settings.rungs.iter().map(u32::to_string).collect();
    let master_public =
        base64::engine::general_purpose::STANDARD.encode(app.master_public.as_bytes());
    let mut cmd = Command::new(exe);
    cmd.arg("transcode-job")
        .arg(&job.video_id)
        .args(["--source-key", source])
        .args(["--master-public-key", &master_public])
        .args(["--job-rungs", &rungs.join(",")])
        .args([
            "--job-segment-seconds",
            &settings.segment_seconds.to_string(),
        ])
        .args(["--job-rotate-every", &settings.rotate_every.to_string()])
        .args(["--job-preset", &settings.preset])
        .args(["--memory-limit", &settings.memory_limit.to_string()]);
    // The child gets locations, never secrets it doesn't need.
    for (key, _) in std::env::vars() {
        if key.starts_with("SEALCAST_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("SEALCAST_DATA_DIR", &config.data_dir)
        .env("SEALCAST_DATABASE_URL", &config.database_url)
        .env(
            "SEALCAST_LOG_FORMAT",
            match config.log_format {
                crate::config::LogFormat::Json => "json",
                crate::config::LogFormat::Plain => "plain",
            },
        )
        .envs(storage_env(&config.storage))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    cmd.spawn()
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
    let mut lines = BufReader::new(stdout).lines();
    let mut heartbeat = tokio::time::interval(settings.lease / 3);
    heartbeat.tick().await;
    let deadline = tokio::time::sleep(settings.timeout);
    tokio::pin!(deadline);
    let mut result: Option<Outcome> = None;
    let mut last_percent = -1i64;
    loop {
        tokio::select! {
            line = lines.next_line() => match line {
                Ok(Some(line)) => {
                    if let Some(p) = line.strip_prefix("progress ") {
                        let percent = (p.trim().parse::<f64>().unwrap_or(0.0) * 100.0) as i64;
                        if percent != last_percent {
                            last_percent = percent;
                            let _ = queue::set_progress(&app.db, &job.video_id, percent.min(99)).await;
                        }
                    } else if let Some(json) = line.strip_prefix("done ") {
                        result = serde_json::from_str(json).ok().map(Outcome::Done);
                    } else if let Some(json) = line.strip_prefix("error ") {
                        result = serde_json::from_str(json).ok().map(Outcome::Failed);
                    }
                }
                Ok(None) | Err(_) => break,
            },
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
    let status = child.wait().await;
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

async fn record(
    app: &App,
    settings: &JobSettings,
    job: &ClaimedJob,
    source: &str,
    outcome: Outcome,
) -> Result<(), sqlx::Error> {
    let video = &job.video_id;
    match outcome {
        Outcome::Done(done) => {
            finish_source(app, settings, video, source).await;
            queue::finish_ready(&app.db, job, done.duration_seconds, &done.renditions).await?;
            tracing::info!(video_id = %video, duration = done.duration_seconds, "transcode ready");
            Ok(())
        }
        Outcome::Failed(failed) if failed.bad_media => {
            tracing::info!(video_id = %video, reason = %failed.message, "upload rejected as bad media");
            give_up(app, job, source, &failed.message).await
        }
        Outcome::Failed(failed) => {
            retry_or_fail(app, job, source, &failed.message, failed.retryable).await
        }
        Outcome::Crashed(reason) => retry_or_fail(app, job, source, &reason, true).await,
        Outcome::TimedOut => {
            let reason = format!(
                "transcoding took longer than {} s and was stopped",
                settings.timeout.as_secs()
            );
            give_up(app, job, source, &reason).await
        }
        Outcome::LeaseLost => {
            tracing::warn!(video_id = %video, "lease lost; another worker owns the job now");
            Ok(())
        }
        Outcome::Shutdown => {
            let _ = discard_outputs(app.storage.as_ref(), &app.db, video).await;
            queue::retry_later(&app.db, job, "interrupted by shutdown", Duration::ZERO).await
        }
    }
}

async fn retry_or_fail(
    app: &App,
    job: &ClaimedJob,
    source: &str,
    reason: &str,
    retryable: bool,
) -> Result<(), sqlx::Error> {
    let _ = discard_outputs(app.storage.as_ref(), &app.db, &job.video_id).await;
    if retryable && job.attempts < job.max_attempts {
        let delay = queue::backoff(job.attempts);
        tracing::warn!(video_id = %job.video_id, %reason, retry_in_s = delay.as_secs(), "transcode failed; will retry");
        queue::retry_later(&app.db, job, reason, delay).await
    } else {
        let reason = format!("{reason} (after {} attempts)", job.attempts);
        give_up(app, job, source, &reason).await
    }
}

/// Final failure: nothing of the video stays in storage, the upload included.
async fn give_up(
    app: &App,
    job: &ClaimedJob,
    source: &str,
    reason: &str,
) -> Result<(), sqlx::Error> {
    let _ = discard_outputs(app.storage.as_ref(), &app.db, &job.video_id).await;
    if let Ok(key) = ObjectKey::new(source) {
        let _ = app.storage.delete(&key).await;
    }
    queue::fail(&app.db, job, reason).await
}

/// After success the original upload is deleted, or moved to the private
/// `originals/` prefix when the operator keeps originals.
async fn finish_source(app: &App, settings: &JobSettings, video_id: &str, source: &str) {
    let Ok(key) = ObjectKey::new(source) else {
        return;
    };
    if settings.keep_originals {
        let Ok(dest) = ObjectKey::new(layout::original_key(video_id)) else {
            return;
        };
        match app.storage.get(&key, None).await {
            Ok(body) => {
                if let Err(err) = app.storage.put(&dest, body.stream).await {
                    tracing::warn!(video_id, error = %err, "keeping the original failed; it stays in uploads/");
                    return;
                }
            }
            Err(err) => {
                tracing::warn!(video_id, error = %err, "reading the original failed");
                return;
            }
        }
    }
    if let Err(err) = app.storage.delete(&key).await {
        tracing::warn!(video_id, error = %err, "deleting the original upload failed");
    }
}
