//! The `videos` table: the row type and every statement on it.
//!
//! Status changes that must commit with another table's change (a job's
//! state, an upload's row) take any executor, so callers pass their
//! transaction; everything else takes the pool.

use serde::{Deserialize, Serialize};
use sqlx::{Any, Executor};

use super::VideoStatus;
use crate::db::{now_ms, Db};

/// One video as stored, with its course's owner (who manages it).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Video {
    pub id: String,
    pub course_id: String,
    /// Who uploaded it.
    pub owner_id: String,
    /// The owner of its course.
    pub course_owner_id: String,
    pub title: String,
    #[sqlx(try_from = "String")]
    pub status: VideoStatus,
    /// Transcode progress, 0..=100.
    pub progress: i64,
    /// Why it failed, in words a user can read.
    pub error: Option<String>,
    pub duration_ms: Option<i64>,
    /// JSON list of [`Rendition`]s, once ready.
    pub renditions: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// One rung of a ready video's ladder.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Rendition {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub bandwidth: u64,
}

impl Video {
    pub fn renditions(&self) -> Vec<Rendition> {
        self.renditions
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok())
            .unwrap_or_default()
    }

    pub fn duration_seconds(&self) -> Option<f64> {
        self.duration_ms.map(|ms| ms as f64 / 1000.0)
    }
}

const SELECT: &str =
    "SELECT v.id, v.course_id, v.owner_id, c.owner_id AS course_owner_id, v.title, \
     v.status, v.progress, v.error, v.duration_ms, v.renditions, v.created_at \
     FROM videos v JOIN courses c ON c.id = v.course_id";

pub async fn find(db: &Db, id: &str) -> Result<Option<Video>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE v.id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await
}

/// A course's videos, oldest first.
pub async fn list_for_course(db: &Db, course_id: &str) -> Result<Vec<Video>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SELECT} WHERE v.course_id = $1 ORDER BY v.created_at, v.id"
    ))
    .bind(course_id)
    .fetch_all(&db.pool)
    .await
}

/// Every ready video's id, oldest first (for backfills).
pub async fn ready_ids(db: &Db) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM videos WHERE status = $1 ORDER BY created_at, id")
        .bind(VideoStatus::Ready.as_str())
        .fetch_all(&db.pool)
        .await
}

pub async fn count_in_course(db: &Db, course_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM videos WHERE course_id = $1")
        .bind(course_id)
        .fetch_one(&db.pool)
        .await
}

/// A video that is about to receive its bytes.
#[derive(Debug)]
pub struct NewVideo<'a> {
    pub id: &'a str,
    pub course_id: &'a str,
    pub owner_id: &'a str,
    pub title: &'a str,
    /// What it counts against its owner's quota.
    pub size_bytes: u64,
}

/// Inserts a video in `uploading`.
pub async fn insert<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    new: &NewVideo<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO videos (id, course_id, owner_id, title, status, progress, size_bytes, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'uploading', 0, $5, $6, $6)",
    )
    .bind(new.id)
    .bind(new.course_id)
    .bind(new.owner_id)
    .bind(new.title)
    .bind(new.size_bytes as i64)
    .bind(now_ms())
    .execute(ex)
    .await
    .map(|_| ())
}

/// A step in a video's life, as the queue and the upload path record it.
#[derive(Debug, Clone, Copy)]
pub enum StatusChange<'a> {
    /// Waiting for a worker (again); progress and error are reset.
    Queued,
    /// A worker has it.
    Processing,
    /// Transcode progress while processing (0..=100).
    Progress(i64),
    Ready {
        duration_ms: i64,
        renditions: &'a [Rendition],
    },
    Failed {
        reason: &'a str,
    },
}

/// Records a status change.
pub async fn record<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    id: &str,
    change: StatusChange<'_>,
) -> Result<(), sqlx::Error> {
    // `$1` is always the time and `$2` the id; a change's own values follow.
    let sql = match change {
        StatusChange::Queued => {
            "UPDATE videos SET status = 'queued', progress = 0, error = NULL, updated_at = $1 WHERE id = $2"
        }
        StatusChange::Processing => {
            "UPDATE videos SET status = 'processing', progress = 0, updated_at = $1 WHERE id = $2"
        }
        StatusChange::Progress(_) => {
            "UPDATE videos SET progress = $3, updated_at = $1 WHERE id = $2 AND status = 'processing'"
        }
        StatusChange::Ready { .. } => {
            "UPDATE videos SET status = 'ready', progress = 100, error = NULL, duration_ms = $3, \
             renditions = $4, updated_at = $1 WHERE id = $2"
        }
        StatusChange::Failed { .. } => {
            "UPDATE videos SET status = 'failed', error = $3, updated_at = $1 WHERE id = $2"
        }
    };
    let query = sqlx::query(sql).bind(now_ms()).bind(id.to_string());
    let query = match change {
        StatusChange::Queued | StatusChange::Processing => query,
        StatusChange::Progress(percent) => query.bind(percent.clamp(0, 100)),
        StatusChange::Ready {
            duration_ms,
            renditions,
        } => query
            .bind(duration_ms)
            .bind(serde_json::to_string(renditions).unwrap_or_else(|_| "[]".into())),
        StatusChange::Failed { reason } => query.bind(reason.to_string()),
    };
    query.execute(ex).await.map(|_| ())
}

/// The probed duration of a just-completed upload.
pub async fn set_duration(db: &Db, id: &str, duration_ms: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE videos SET duration_ms = $1 WHERE id = $2")
        .bind(duration_ms)
        .bind(id)
        .execute(&db.pool)
        .await
        .map(|_| ())
}

/// Bytes a creator holds: every video of theirs (uploads in flight count at
/// their full announced length).
pub async fn bytes_used_by<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    owner_id: &str,
) -> Result<u64, sqlx::Error> {
    // PostgreSQL sums BIGINT to NUMERIC; the cast keeps one type for both.
    let used: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) FROM videos WHERE owner_id = $1",
    )
    .bind(owner_id)
    .fetch_one(ex)
    .await?;
    Ok(used.max(0) as u64)
}

/// Deletes the row and everything that hangs off it, in one transaction.
pub async fn delete_with_dependents(db: &Db, id: &str) -> Result<(), sqlx::Error> {
    let mut tx = db.pool.begin().await?;
    for statement in [
        "DELETE FROM playback_sessions WHERE video_id = $1",
        "DELETE FROM content_keys WHERE video_id = $1",
        "DELETE FROM transcode_jobs WHERE video_id = $1",
        "DELETE FROM captions WHERE video_id = $1",
        "DELETE FROM uploads WHERE video_id = $1",
        "DELETE FROM videos WHERE id = $1",
    ] {
        sqlx::query(statement).bind(id).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    // Its sessions are gone: no node may keep serving them from a cache.
    db.announce_revocation().await.map(|_| ())
}
