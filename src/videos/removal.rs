//! Removing a video: the one path that DELETE, tus termination and the
//! upload sweeper all take.
//!
//! Rows go first, so nothing can start playing it; a transcode still running
//! loses its lease (its job row is gone) and is killed, and a second pass
//! after one lease catches anything it wrote meanwhile. A resumable upload in
//! flight is aborted by the caller (`uploads::discard`) before this runs.

use std::sync::Arc;
use std::time::Duration;

use super::{layout, model};
use crate::app::App;
use crate::storage::{ObjectPrefix, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum RemoveError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Removes every row and object of a video.
pub async fn remove(app: &Arc<App>, id: &str) -> Result<(), RemoveError> {
    model::delete_with_dependents(&app.db, id).await?;
    remove_objects(app, id).await?;
    let (app, id) = (app.clone(), id.to_string());
    let delay = app.config.jobs.lease + Duration::from_secs(1);
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        if let Err(err) = remove_objects(&app, &id).await {
            tracing::warn!(video_id = %id, error = %err, "second cleanup pass failed");
        }
    });
    Ok(())
}

async fn remove_objects(app: &App, id: &str) -> Result<(), StorageError> {
    for prefix in layout::all_prefixes(id) {
        app.storage
            .delete_prefix(&ObjectPrefix::new(prefix)?)
            .await?;
    }
    Ok(())
}
