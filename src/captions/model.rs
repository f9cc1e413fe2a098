//! The `captions` table: one row per track (video, language), pointing at
//! the track's WebVTT object.

use crate::db::{now_ms, Db};

/// One caption track as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Track {
    pub video_id: String,
    pub lang: String,
    pub label: String,
    pub object_key: String,
    pub cue_count: i64,
    pub size_bytes: i64,
    /// Unix milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
}

const SELECT: &str = "SELECT video_id, lang, label, object_key, cue_count, size_bytes, \
                      created_at, updated_at FROM captions";

/// A video's tracks, by language.
pub async fn list(db: &Db, video_id: &str) -> Result<Vec<Track>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE video_id = $1 ORDER BY lang"))
        .bind(video_id)
        .fetch_all(&db.pool)
        .await
}

pub async fn find(db: &Db, video_id: &str, lang: &str) -> Result<Option<Track>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE video_id = $1 AND lang = $2"))
        .bind(video_id)
        .bind(lang)
        .fetch_optional(&db.pool)
        .await
}

pub async fn count(db: &Db, video_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM captions WHERE video_id = $1")
        .bind(video_id)
        .fetch_one(&db.pool)
        .await
}

/// Inserts or replaces a track; the row as it now is.
pub async fn upsert(
    db: &Db,
    video_id: &str,
    lang: &str,
    label: &str,
    object_key: &str,
    cue_count: usize,
    size_bytes: usize,
) -> Result<Track, sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO captions (video_id, lang, label, object_key, cue_count, size_bytes, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
         ON CONFLICT (video_id, lang) DO UPDATE SET label = excluded.label, \
         object_key = excluded.object_key, cue_count = excluded.cue_count, \
         size_bytes = excluded.size_bytes, updated_at = excluded.updated_at",
    )
    .bind(video_id)
    .bind(lang)
    .bind(label)
    .bind(object_key)
    .bind(cue_count as i64)
    .bind(size_bytes as i64)
    .bind(now)
    .execute(&db.pool)
    .await?;
    find(db, video_id, lang)
        .await?
        .ok_or(sqlx::Error::RowNotFound)
}

/// Deletes a track's row; whether there was one.
pub async fn delete(db: &Db, video_id: &str, lang: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM captions WHERE video_id = $1 AND lang = $2")
        .bind(video_id)
        .bind(lang)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected() > 0)
}
