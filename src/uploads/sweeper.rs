//! Removes abandoned uploads: expired, unfinished and not being written.
//! Each goes the one removal path (`workflow::discard`): its stored bytes
//! (partial file, S3 multipart upload and side objects) first, then its
//! video with every row.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::lease::Lease;
use super::{state, workflow, UploadError};
use crate::app::App;
use crate::db::now_ms;

/// Runs until `stop` is cancelled.
pub fn spawn(app: Arc<App>, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(app.config.uploads.sweep_interval);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.cancelled() => return,
            }
            match sweep(&app).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "swept expired uploads"),
                Err(err) => tracing::warn!(error = %err, "sweeping expired uploads failed"),
            }
        }
    })
}

/// One pass; returns how many uploads were removed.
pub async fn sweep(app: &Arc<App>) -> Result<usize, UploadError> {
    let mut removed = 0;
    for upload in state::expired(&app.db, now_ms(), 100).await? {
        // The lease keeps a late PATCH from writing while we remove.
        let lease = match Lease::take(
            &app.db,
            &upload.video_id,
            &app.lease_owner,
            app.config.uploads.sweep_interval,
        )
        .await
        {
            Ok(lease) => lease,
            Err(UploadError::Locked) => continue,
            Err(err) => return Err(err),
        };
        let result = workflow::discard(app, &upload.video_id).await;
        lease.release().await;
        match result {
            Ok(()) => removed += 1,
            Err(err) => {
                tracing::warn!(video_id = %upload.video_id, error = %err, "removing an expired upload failed")
            }
        }
    }
    Ok(removed)
}
