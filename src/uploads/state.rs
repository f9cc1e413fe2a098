//! The `uploads` rows: the durable truth about every upload in flight.
//!
//! The offset in the database is what a client is told, and it only moves
//! after the storage backend has the bytes, so a crash anywhere leaves an
//! upload that resumes from a point both sides agree on. Writes happen under
//! a lease (`lock_owner`, `lock_expires_at`) taken with one conditional
//! UPDATE, so two requests, even on two nodes, never append at once.

use std::time::Duration;

use crate::db::{now_ms, Db};
use crate::storage::UploadProgress;
use crate::videos::model::{self, NewVideo};

/// One upload as stored.
#[derive(Debug, Clone)]
pub struct UploadRecord {
    pub video_id: String,
    pub owner_id: String,
    pub storage_key: String,
    /// The `Upload-Metadata` header as received.
    pub metadata: Option<String>,
    pub progress: UploadProgress,
    pub expires_at: i64,
    pub completed_at: Option<i64>,
}

type Row = (
    String,
    String,
    String,
    Option<String>,
    i64,
    i64,
    Option<String>,
    Option<String>,
    i64,
    Option<i64>,
);

const SELECT: &str = "SELECT video_id, owner_id, storage_key, metadata, length, offset_bytes, \
     multipart_upload_id, parts, expires_at, completed_at FROM uploads";

fn from_row(r: Row) -> UploadRecord {
    UploadRecord {
        video_id: r.0,
        owner_id: r.1,
        storage_key: r.2,
        metadata: r.3,
        progress: UploadProgress {
            length: r.4.max(0) as u64,
            offset: r.5.max(0) as u64,
            multipart_id: r.6,
            parts: UploadProgress::parts_from_json(r.7.as_deref()),
        },
        expires_at: r.8,
        completed_at: r.9,
    }
}

pub async fn load(db: &Db, video_id: &str) -> Result<Option<UploadRecord>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(&format!("{SELECT} WHERE video_id = $1"))
        .bind(video_id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.map(from_row))
}

/// What a new upload needs besides its storage progress: its video, and
/// where and until when its bytes are kept.
#[derive(Debug)]
pub struct NewUpload<'a> {
    pub video: NewVideo<'a>,
    pub storage_key: &'a str,
    pub metadata: Option<&'a str>,
    pub expires_at: i64,
}

/// Why a new upload was not created.
#[derive(Debug)]
pub enum CreateError {
    /// The owner already holds `used` bytes; this one would pass the quota.
    OverQuota {
        used: u64,
    },
    Db(sqlx::Error),
}

impl From<sqlx::Error> for CreateError {
    fn from(err: sqlx::Error) -> Self {
        CreateError::Db(err)
    }
}

/// Inserts the video (`uploading`) and its upload in one transaction, after
/// checking the owner's quota (`0`: none) in that same transaction.
///
/// The check and the insert are one step: the transaction first writes the
/// owner's row, which serialises it against every other creation by that
/// owner (a row lock on PostgreSQL, the write lock on SQLite), so two
/// uploads racing for the last free bytes cannot both see them free. The
/// video's `size_bytes` (the announced length) is what counts.
pub async fn create(
    db: &Db,
    new: &NewUpload<'_>,
    progress: &UploadProgress,
    quota: u64,
) -> Result<(), CreateError> {
    let now = now_ms();
    let mut tx = db.pool.begin().await?;
    if quota > 0 {
        sqlx::query("UPDATE users SET role = role WHERE id = $1")
            .bind(new.video.owner_id)
            .execute(&mut *tx)
            .await?;
        let used = model::bytes_used_by(&mut *tx, new.video.owner_id).await?;
        if used.saturating_add(new.video.size_bytes) > quota {
            return Err(CreateError::OverQuota { used });
        }
    }
    model::insert(&mut *tx, &new.video).await?;
    sqlx::query(
        "INSERT INTO uploads (video_id, owner_id, length, offset_bytes, metadata, storage_key, \
         multipart_upload_id, parts, expires_at, created_at, updated_at) \
         VALUES ($1, $2, $3, 0, $4, $5, $6, NULL, $7, $8, $8)",
    )
    .bind(new.video.id)
    .bind(new.video.owner_id)
    .bind(progress.length as i64)
    .bind(new.metadata)
    .bind(new.storage_key)
    .bind(progress.multipart_id.as_deref())
    .bind(new.expires_at)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(tx.commit().await?)
}

/// Takes the upload's write lease; `false` when another request holds it.
/// LIKE patterns for lease holders of this node (`node`) and of its
/// current life (`life`): a holder matching the first but not the second
/// died with an earlier life of this node.
#[derive(Debug, Clone, Copy)]
pub struct PastLives<'a> {
    pub node: &'a str,
    pub life: &'a str,
}

pub async fn try_lock(
    db: &Db,
    video_id: &str,
    holder: &str,
    lease: Duration,
    past_lives: PastLives<'_>,
) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE uploads SET lock_owner = $1, lock_expires_at = $2 \
         WHERE video_id = $3 AND (lock_owner IS NULL OR lock_expires_at < $4 \
         OR (lock_owner LIKE $5 AND lock_owner NOT LIKE $6))",
    )
    .bind(holder)
    .bind(now + lease.as_millis() as i64)
    .bind(video_id)
    .bind(now)
    .bind(past_lives.node)
    .bind(past_lives.life)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn unlock(db: &Db, video_id: &str, holder: &str) {
    let result = sqlx::query(
        "UPDATE uploads SET lock_owner = NULL, lock_expires_at = NULL \
         WHERE video_id = $1 AND lock_owner = $2",
    )
    .bind(video_id)
    .bind(holder)
    .execute(&db.pool)
    .await;
    if let Err(err) = result {
        tracing::warn!(video_id, error = %err, "releasing an upload lease failed");
    }
}

/// Pushes the lease's expiry to `until` (unix ms) if `holder` still holds it.
pub async fn extend_lock(
    db: &Db,
    video_id: &str,
    holder: &str,
    until: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE uploads SET lock_expires_at = $1 WHERE video_id = $2 AND lock_owner = $3")
        .bind(until)
        .bind(video_id)
        .bind(holder)
        .execute(&db.pool)
        .await
        .map(|_| ())
}

/// Stores new progress while holding the lease; `false` if the lease was lost.
pub async fn save_progress(
    db: &Db,
    video_id: &str,
    holder: &str,
    progress: &UploadProgress,
    expires_at: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE uploads SET offset_bytes = $1, multipart_upload_id = $2, parts = $3, \
         expires_at = $4, updated_at = $5 WHERE video_id = $6 AND lock_owner = $7",
    )
    .bind(progress.offset as i64)
    .bind(progress.multipart_id.as_deref())
    .bind(progress.parts_json())
    .bind(expires_at)
    .bind(now_ms())
    .bind(video_id)
    .bind(holder)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The last byte is in; `upload.completed` is queued in the same transaction.
pub async fn mark_complete(db: &Db, video_id: &str) -> Result<(), sqlx::Error> {
    let now = now_ms();
    let mut tx = db.pool.begin().await?;
    sqlx::query("UPDATE uploads SET completed_at = $1, updated_at = $1 WHERE video_id = $2")
        .bind(now)
        .bind(video_id)
        .execute(&mut *tx)
        .await?;
    let course_id: Option<String> =
        sqlx::query_scalar("SELECT course_id FROM videos WHERE id = $1")
            .bind(video_id)
            .fetch_optional(&mut *tx)
            .await?;
    let data = serde_json::json!({ "video_id": video_id, "course_id": course_id });
    crate::webhooks::enqueue(&mut tx, crate::webhooks::Event::UploadCompleted, data).await?;
    tx.commit().await
}

/// Unfinished uploads whose expiry has passed and that nobody is writing.
pub async fn expired(db: &Db, now: i64, limit: i64) -> Result<Vec<UploadRecord>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "{SELECT} WHERE completed_at IS NULL AND expires_at < $1 \
         AND (lock_owner IS NULL OR lock_expires_at < $1) ORDER BY expires_at LIMIT $2"
    ))
    .bind(now)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(from_row).collect())
}
