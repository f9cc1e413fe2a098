//! `sealcast serve --demo`: a newcomer's first ten minutes.
//!
//! Creates three demo accounts (admin, creator, learner) with fresh random
//! passwords printed once to the terminal (never logged, never stored in
//! plain text), a course owned by the creator with the learner enrolled, and
//! a generated sample video that goes through the real transcode queue. Only
//! allowed on a loopback listener: printed passwords must not open a server
//! that others can reach.

use std::sync::Arc;

use futures::StreamExt;

use crate::db::{new_id, now_ms};
use crate::http::App;
use crate::storage::ObjectKey;

/// Title of the demo course; its presence marks a data dir already seeded.
pub const DEMO_COURSE_TITLE: &str = "Welcome to sealcast";

/// Why the demo could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("storage: {0}")]
    Storage(#[from] crate::storage::StorageError),
    #[error("sample video: {0}")]
    Sample(String),
}

/// Generates the sample video, stores it as a finished upload of `course_id`
/// and queues its transcode. Returns the video id.
pub async fn add_sample_video(
    app: &Arc<App>,
    owner_id: &str,
    course_id: &str,
    spec: sealcast_transcoder::SampleSpec,
) -> Result<String, DemoError> {
    let dir = app.config.data_dir.join("tmp");
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| DemoError::Sample(e.to_string()))?;
    let path = dir.join(format!("sample-{}.mp4", new_id()));
    let result = store_sample(app, owner_id, course_id, spec, &path).await;
    let _ = tokio::fs::remove_file(&path).await;
    result
}

async fn store_sample(
    app: &Arc<App>,
    owner_id: &str,
    course_id: &str,
    spec: sealcast_transcoder::SampleSpec,
    path: &std::path::Path,
) -> Result<String, DemoError> {
    let target = path.to_path_buf();
    tokio::task::spawn_blocking(move || sealcast_transcoder::generate_sample(&target, &spec))
        .await
        .map_err(|e| DemoError::Sample(e.to_string()))?
        .map_err(|e| DemoError::Sample(e.to_string()))?;
    let size = tokio::fs::metadata(path)
        .await
        .map_err(|e| DemoError::Sample(e.to_string()))?
        .len();

    let id = new_id();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO videos (id, course_id, owner_id, title, status, size_bytes, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'uploading', $5, $6, $6)",
    )
    .bind(&id)
    .bind(course_id)
    .bind(owner_id)
    .bind("Sample: test pattern")
    .bind(size as i64)
    .bind(now)
    .execute(&app.db.pool)
    .await?;
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| DemoError::Sample(e.to_string()))?;
    let body = tokio_util::io::ReaderStream::new(file)
        .map(|chunk| chunk.map_err(std::io::Error::other))
        .boxed();
    let key = ObjectKey::new(crate::jobs::default_upload_key(&id))?;
    app.storage.put(&key, body).await?;
    crate::jobs::queue::enqueue(&app.db, &id).await?;
    Ok(id)
}
