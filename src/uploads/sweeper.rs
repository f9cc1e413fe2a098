//! Removes abandoned uploads: expired, unfinished and not being written.
//! Their stored bytes (partial file, S3 multipart upload and side objects)
//! go first, then the video row (the upload row goes with it).

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::state;
use crate::db::now_ms;
use crate::http::App;
use crate::storage::{ObjectKey, ObjectPrefix};

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
pub async fn sweep(app: &App) -> Result<usize, sqlx::Error> {
    let mut removed = 0;
    for upload in state::expired(&app.db, now_ms(), 100).await? {
        // The lease keeps a late PATCH from writing while we remove.
        let holder = format!("sweeper-{}", crate::db::new_id());
        if !state::try_lock(
            &app.db,
            &upload.video_id,
            &holder,
            app.config.uploads.sweep_interval,
        )
        .await?
        {
            continue;
        }
        if let Ok(key) = ObjectKey::new(upload.storage_key.clone()) {
            if let Err(err) = app.storage.abort_upload(&key, &upload.progress).await {
                tracing::warn!(video_id = %upload.video_id, error = %err, "aborting an expired upload failed");
                state::unlock(&app.db, &upload.video_id, &holder).await;
                continue;
            }
        }
        if let Ok(prefix) = ObjectPrefix::new(super::upload_prefix(&upload.video_id)) {
            let _ = app.storage.delete_prefix(&prefix).await;
        }
        sqlx::query("DELETE FROM videos WHERE id = $1 AND status = 'uploading'")
            .bind(&upload.video_id)
            .execute(&app.db.pool)
            .await?;
        removed += 1;
    }
    Ok(removed)
}
