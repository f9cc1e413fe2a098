//! Recording an append's intermediate progress while its request runs.
//!
//! Storage reports what it has made durable ([`Checkpoints`]); this records
//! each report on the upload's row under the request's lease, so a server
//! killed in the middle of a long PATCH resumes from the last checkpoint
//! instead of from where the request began. The row never runs ahead of
//! storage: a value is reported only once its bytes are synced or in a part.

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::state;
use crate::db::Db;
use crate::storage::{Checkpoints, UploadProgress};

/// The task that writes checkpoints to the database.
pub struct Recorder {
    task: JoinHandle<UploadProgress>,
}

impl Recorder {
    /// Starts recording for one append that begins at `from`; the returned
    /// [`Checkpoints`] go to storage, spaced `every` bytes apart.
    pub fn start(
        db: &Db,
        video_id: &str,
        holder: &str,
        from: &UploadProgress,
        expires_at: i64,
        every: u64,
    ) -> (Self, Checkpoints) {
        let (tx, mut rx) = watch::channel(from.clone());
        let (db, video_id, holder) = (db.clone(), video_id.to_string(), holder.to_string());
        let mut recorded = from.clone();
        let task = tokio::spawn(async move {
            // Ends when storage drops its end of the channel, after the
            // latest value (a value not yet seen is still delivered).
            while rx.changed().await.is_ok() {
                let progress = rx.borrow_and_update().clone();
                match state::save_progress(&db, &video_id, &holder, &progress, expires_at).await {
                    Ok(true) => recorded = progress,
                    // The lease is gone: whoever holds it now owns the row.
                    Ok(false) => break,
                    // Skipped; the next checkpoint or the request's end retries.
                    Err(err) => {
                        tracing::warn!(video_id, error = %err, "recording an upload checkpoint failed")
                    }
                }
            }
            recorded
        });
        (Self { task }, Checkpoints::every(every, tx))
    }

    /// Waits for the last report to be written; returns the latest progress
    /// the row holds, which a rollback must not go behind.
    pub async fn finish(self, from: &UploadProgress) -> UploadProgress {
        match self.task.await {
            Ok(recorded) => recorded,
            Err(err) => {
                tracing::warn!(error = %err, "the upload checkpoint task failed");
                from.clone()
            }
        }
    }
}
