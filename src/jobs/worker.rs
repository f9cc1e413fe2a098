//! The worker pool: claim a job, run it in a sandboxed child process
//! ([`supervise`]), and record the outcome.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::queue::{self, ClaimedJob};
use super::sink::discard_outputs;
use super::supervise::{self, Outcome};
use super::JobSettings;
use crate::app::App;
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
    let outcome = supervise::run(app, settings, owner, job, &source, shutdown).await;
    record(app, settings, job, &source, outcome).await
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
