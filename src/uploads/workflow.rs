//! The life of an upload, whatever protocol carries it: create (with its
//! video), append under the lease, and at the last byte publish, probe and
//! queue the transcode; or discard it with its video.
//!
//! The database offset moves only once storage has the bytes, so a crash
//! anywhere leaves an upload both sides agree on. The wire layer (tus, in
//! `http::uploads`) hands in a body stream and a [`BodyCheck`] that judges
//! what it saw; nothing here knows HTTP.

use std::sync::Arc;

use super::checkpoint::Recorder;
use super::lease::Lease;
use super::probe::{probe_object, ProbeError};
use super::state::{self, NewUpload, UploadRecord};
use super::{metadata, UploadError};
use crate::app::App;
use crate::db::{new_id, now_ms};
use crate::identity::courses::get_course;
use crate::storage::{Appended, ByteStream, Checkpoints, ObjectKey, ObjectPrefix, UploadProgress};
use crate::videos::access::{self, Access, Viewer};
use crate::videos::{self, layout, model, StatusChange};

const TITLE_MAX: usize = 200;

/// Who is uploading.
#[derive(Debug, Clone, Copy)]
pub struct Uploader<'a> {
    pub user_id: &'a str,
    pub is_admin: bool,
}

/// A new upload as announced: its total length and raw `Upload-Metadata`.
#[derive(Debug, Clone, Copy)]
pub struct Announced<'a> {
    pub length: u64,
    pub metadata: Option<&'a str>,
}

/// What the wire layer learned about a body once it was read to its end.
pub trait BodyCheck: Send {
    /// `Err` when the bytes must be discarded; `ended_early` says the stream
    /// stopped with an error before the client finished.
    fn verdict(self, ended_early: bool) -> Result<(), UploadError>;
    /// Whether the bytes can only be judged once all of them are in (a
    /// checksum): then nothing counts before the end, so no checkpoints.
    fn judged_whole(&self) -> bool;
}

/// Where an upload stands after a write.
#[derive(Debug, Clone)]
pub struct Written {
    pub progress: UploadProgress,
    /// Unix ms; moved forward by every write.
    pub expires_at: i64,
}

/// Creates an upload and its video (`uploading`) on a course the uploader
/// manages. Returns the new video id.
pub async fn create(
    app: &App,
    uploader: Uploader<'_>,
    announced: Announced<'_>,
) -> Result<(String, Written), UploadError> {
    let limits = &app.config.uploads;
    if announced.length > limits.max_size {
        return Err(UploadError::TooLarge(format!(
            "uploads are limited to {} bytes",
            limits.max_size
        )));
    }
    let meta =
        metadata::parse(announced.metadata.unwrap_or("")).map_err(UploadError::BadMetadata)?;
    let course_id = meta
        .get("course_id")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            UploadError::BadMetadata("Upload-Metadata must name the course_id".into())
        })?;
    let course = get_course(&app.db, course_id)
        .await
        .map_err(UploadError::from_identity)?
        .ok_or(UploadError::CourseNotFound)?;
    let viewer = Viewer {
        user_id: uploader.user_id,
        is_admin: uploader.is_admin,
    };
    if access::for_course(viewer, &course.owner_id, false) != Access::Manage {
        return Err(UploadError::NotCourseOwner);
    }
    let title: String = meta
        .get("title")
        .or_else(|| meta.get("filename"))
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .unwrap_or("Untitled")
        .chars()
        .take(TITLE_MAX)
        .collect();

    let video_id = new_id();
    let key = ObjectKey::new(layout::upload_source_key(&video_id))?;
    let progress = app.storage.begin_upload(&key, announced.length).await?;
    let expires_at = now_ms() + limits.expiry.as_millis() as i64;
    let new = NewUpload {
        video: model::NewVideo {
            id: &video_id,
            course_id,
            owner_id: uploader.user_id,
            title: &title,
            size_bytes: progress.length,
        },
        storage_key: key.as_str(),
        metadata: announced.metadata,
        expires_at,
    };
    if let Err(err) = state::create(&app.db, &new, &progress, limits.creator_quota).await {
        let _ = app.storage.abort_upload(&key, &progress).await;
        return Err(match err {
            state::CreateError::OverQuota { used } => UploadError::QuotaExceeded {
                used,
                quota: limits.creator_quota,
            },
            state::CreateError::Db(err) => err.into(),
        });
    }
    tracing::info!(video_id = %video_id, length = announced.length, "upload created");
    Ok((
        video_id,
        Written {
            progress,
            expires_at,
        },
    ))
}

/// The upload if the caller owns it (or is an admin); `NotFound` otherwise,
/// so other users learn nothing about it.
pub async fn owned(
    app: &App,
    uploader: Uploader<'_>,
    id: &str,
) -> Result<UploadRecord, UploadError> {
    match state::load(&app.db, id).await? {
        Some(record) if record.owner_id == uploader.user_id || uploader.is_admin => Ok(record),
        _ => Err(UploadError::NotFound),
    }
}

/// `Expired` once an unfinished upload has outlived its expiry.
pub fn check_not_expired(record: &UploadRecord) -> Result<(), UploadError> {
    if record.completed_at.is_none() && record.expires_at < now_ms() {
        return Err(UploadError::Expired);
    }
    Ok(())
}

/// Appends the body at `offset` under the upload's lease. `body` turns the
/// room left in the upload into the stream to store and its check.
pub async fn append<C: BodyCheck>(
    app: &App,
    video_id: &str,
    offset: u64,
    declared_length: Option<u64>,
    body: impl FnOnce(u64) -> (ByteStream, C),
) -> Result<Written, UploadError> {
    let lease = Lease::for_request(&app.db, video_id, &app.lease_owner)
        .await?
        .renew_while_held();
    let result = write_locked(app, video_id, &lease.holder, offset, declared_length, body).await;
    lease.release().await;
    result
}

async fn write_locked<C: BodyCheck>(
    app: &App,
    video_id: &str,
    holder: &str,
    offset: u64,
    declared_length: Option<u64>,
    body: impl FnOnce(u64) -> (ByteStream, C),
) -> Result<Written, UploadError> {
    // Re-read under the lease: the offset may have moved since.
    let record = state::load(&app.db, video_id)
        .await?
        .ok_or(UploadError::NotFound)?;
    let old = record.progress.clone();
    if offset != old.offset {
        return Err(UploadError::OffsetMismatch {
            given: offset,
            stored: old.offset,
        });
    }
    let room = old.length - old.offset;
    if declared_length.is_some_and(|n| n > room) {
        return Err(too_long(room));
    }
    let key = ObjectKey::new(record.storage_key.clone())?;
    let expires_at = now_ms() + app.config.uploads.expiry.as_millis() as i64;

    let mut new = old.clone();
    if record.completed_at.is_none() && !old.is_complete() {
        let (stream, check) = body(room);
        let (recorder, checkpoints) = if check.judged_whole() {
            (None, Checkpoints::off())
        } else {
            let every = app.config.uploads.checkpoint_bytes;
            let (recorder, checkpoints) =
                Recorder::start(&app.db, video_id, holder, &old, expires_at, every);
            (Some(recorder), checkpoints)
        };
        let appended = app
            .storage
            .append_checkpointed(&key, &old, stream, checkpoints)
            .await;
        // What the row holds now: a rollback goes back to it, no further.
        let recorded = match recorder {
            Some(recorder) => recorder.finish(&old).await,
            None => old.clone(),
        };
        let Appended {
            progress,
            body_error,
        } = appended?;
        new = progress;
        if let Err(err) = check.verdict(body_error.is_some()) {
            app.storage.rollback_append(&key, &recorded, &new).await;
            return Err(err);
        }
        if !state::save_progress(&app.db, video_id, holder, &new, expires_at).await? {
            app.storage.rollback_append(&key, &recorded, &new).await;
            return Err(UploadError::Locked);
        }
        app.storage.commit_append(&key, &old, &new).await;
        metrics::counter!("sealcast_upload_bytes_total").increment(new.offset - old.offset);
        if let Some(err) = &body_error {
            tracing::info!(video_id, offset = new.offset, error = %err, "upload body ended early; resumable");
        }
    }
    if new.is_complete() && record.completed_at.is_none() {
        complete(app, video_id, &key, &new).await?;
    }
    Ok(Written {
        progress: new,
        expires_at,
    })
}

/// The refusal of a body longer than the room left.
pub fn too_long(room: u64) -> UploadError {
    UploadError::TooLarge(format!(
        "the body is longer than the {room} bytes left in this upload"
    ))
}

/// The last byte is in: publish, probe, queue the transcode.
async fn complete(
    app: &App,
    video_id: &str,
    key: &ObjectKey,
    progress: &UploadProgress,
) -> Result<(), UploadError> {
    app.storage.finish_upload(key, progress).await?;
    state::mark_complete(&app.db, video_id).await?;
    let work_dir = app.config.data_dir.join("work");
    match probe_object(app.storage.as_ref(), key, progress.length, &work_dir).await {
        Ok(duration) => {
            model::set_duration(&app.db, video_id, (duration * 1000.0).round() as i64).await?;
        }
        Err(ProbeError::NotVideo(reason)) => {
            tracing::info!(video_id, %reason, "upload is not a video");
            if let Ok(prefix) = ObjectPrefix::new(layout::upload_prefix(video_id)) {
                let _ = app.storage.delete_prefix(&prefix).await;
            }
            let err = UploadError::NotAVideo(reason);
            let message = err.to_string();
            let mut tx = app.db.pool.begin().await?;
            model::record(
                &mut *tx,
                video_id,
                StatusChange::Failed { reason: &message },
            )
            .await?;
            let data = serde_json::json!({ "video_id": video_id, "reason": message });
            crate::webhooks::enqueue(&mut tx, crate::webhooks::Event::VideoFailed, data).await?;
            tx.commit().await?;
            metrics::counter!("sealcast_uploads_completed_total", "outcome" => "not_a_video")
                .increment(1);
            return Err(err);
        }
        // The transcoder checks the media again; a probe that could not run
        // must not lose an upload.
        Err(err) => {
            tracing::warn!(video_id, error = %err, "probing the upload failed; queueing anyway")
        }
    }
    crate::jobs::queue::enqueue(&app.db, video_id).await?;
    metrics::counter!("sealcast_uploads_completed_total", "outcome" => "queued").increment(1);
    tracing::info!(video_id, "upload complete; transcode queued");
    Ok(())
}

/// Terminates an upload the caller owns: its bytes and its video go.
pub async fn terminate(app: &Arc<App>, video_id: &str) -> Result<(), UploadError> {
    let lease = Lease::for_request(&app.db, video_id, &app.lease_owner).await?;
    let result = discard(app, video_id).await;
    lease.release().await;
    result
}

/// Removes a video and, first, its resumable upload if one is in flight:
/// the one removal path of DELETE, termination and the sweeper.
pub async fn discard(app: &Arc<App>, video_id: &str) -> Result<(), UploadError> {
    if let Some(upload) = state::load(&app.db, video_id).await? {
        if upload.completed_at.is_none() {
            let key = ObjectKey::new(upload.storage_key.clone())?;
            app.storage.abort_upload(&key, &upload.progress).await?;
        }
    }
    videos::remove(app, video_id).await?;
    Ok(())
}
