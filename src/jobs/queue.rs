//! The job queue's database operations. Portable SQL; a claim is one
//! conditional UPDATE (its head row taken `FOR UPDATE SKIP LOCKED` on
//! PostgreSQL), so two workers (on one node or many) never run the same job,
//! and an expired lease makes a job claimable again.

use std::time::Duration;

use crate::db::{new_id, now_ms, Db};
use crate::videos::{model, Rendition, StatusChange};
use crate::webhooks::{self, Event};

/// A job a worker has claimed.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: String,
    pub video_id: String,
    /// Attempts including this one.
    pub attempts: i64,
    pub max_attempts: i64,
}

/// Queues a transcode of `video_id` and marks the video `queued`.
pub async fn enqueue(db: &Db, video_id: &str) -> Result<String, sqlx::Error> {
    let id = new_id();
    let now = now_ms();
    let mut tx = db.pool.begin().await?;
    sqlx::query(
        "INSERT INTO transcode_jobs (id, video_id, status, attempts, run_after, created_at, updated_at) \
         VALUES ($1, $2, 'queued', 0, $3, $3, $3)",
    )
    .bind(&id)
    .bind(video_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    model::record(&mut *tx, video_id, StatusChange::Queued).await?;
    tx.commit().await?;
    Ok(id)
}

/// Claims the oldest runnable job: queued and due, or processing with an expired lease.
pub async fn claim(
    db: &Db,
    owner: &str,
    lease: Duration,
) -> Result<Option<ClaimedJob>, sqlx::Error> {
    let now = now_ms();
    // On PostgreSQL, workers racing for the queue's head skip the row another
    // is claiming (`FOR UPDATE SKIP LOCKED`) and take the next one instead of
    // coming back empty; SQLite has one writer at a time and no row locks.
    // Either way the outer WHERE re-checks the row, so a job is claimed once.
    let lock = match db.dialect {
        crate::db::Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        crate::db::Dialect::Sqlite => "",
    };
    let sql = format!(
        "UPDATE transcode_jobs \
         SET status = 'processing', lease_owner = $1, lease_expires_at = $2, attempts = attempts + 1, updated_at = $3 \
         WHERE id = (SELECT id FROM transcode_jobs \
                     WHERE (status = 'queued' AND run_after <= $3) \
                        OR (status = 'processing' AND lease_expires_at < $3) \
                     ORDER BY run_after, created_at LIMIT 1{lock}) \
           AND ((status = 'queued' AND run_after <= $3) OR (status = 'processing' AND lease_expires_at < $3)) \
         RETURNING id, video_id, attempts, max_attempts"
    );
    let row: Option<(String, String, i64, i64)> = sqlx::query_as(&sql)
        .bind(owner)
        .bind(now + lease.as_millis() as i64)
        .bind(now)
        .fetch_optional(&db.pool)
        .await?;
    let Some((id, video_id, attempts, max_attempts)) = row else {
        return Ok(None);
    };
    model::record(&db.pool, &video_id, StatusChange::Processing).await?;
    Ok(Some(ClaimedJob {
        id,
        video_id,
        attempts,
        max_attempts,
    }))
}

/// Extends the lease; `false` means another worker owns the job now.
pub async fn heartbeat(
    db: &Db,
    job: &ClaimedJob,
    owner: &str,
    lease: Duration,
) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let result = sqlx::query(
        "UPDATE transcode_jobs SET lease_expires_at = $1, updated_at = $2 \
         WHERE id = $3 AND lease_owner = $4 AND status = 'processing'",
    )
    .bind(now + lease.as_millis() as i64)
    .bind(now)
    .bind(&job.id)
    .bind(owner)
    .execute(&db.pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn set_progress(db: &Db, video_id: &str, percent: i64) -> Result<(), sqlx::Error> {
    model::record(&db.pool, video_id, StatusChange::Progress(percent)).await
}

/// Marks the job done and the video ready, in one transaction.
pub async fn finish_ready(
    db: &Db,
    job: &ClaimedJob,
    duration_seconds: f64,
    renditions: &[Rendition],
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    let mut tx = db.pool.begin().await?;
    sqlx::query("UPDATE transcode_jobs SET status = 'done', lease_owner = NULL, error = NULL, updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(&job.id)
        .execute(&mut *tx)
        .await?;
    let ready = StatusChange::Ready {
        duration_ms: (duration_seconds * 1000.0).round() as i64,
        renditions,
    };
    model::record(&mut *tx, &job.video_id, ready).await?;
    let data = serde_json::json!({
        "video_id": job.video_id,
        "duration_seconds": duration_seconds,
        "renditions": renditions,
    });
    webhooks::enqueue(&mut tx, Event::VideoReady, data).await?;
    tx.commit().await
}

/// Puts the job back in the queue after `delay` (a transient failure).
pub async fn retry_later(
    db: &Db,
    job: &ClaimedJob,
    reason: &str,
    delay: Duration,
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    let mut tx = db.pool.begin().await?;
    sqlx::query(
        "UPDATE transcode_jobs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL, \
         run_after = $1, error = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(now + delay.as_millis() as i64)
    .bind(reason)
    .bind(now)
    .bind(&job.id)
    .execute(&mut *tx)
    .await?;
    model::record(&mut *tx, &job.video_id, StatusChange::Queued).await?;
    tx.commit().await
}

/// Fails the job and the video for good, with a reason a user can read.
pub async fn fail(db: &Db, job: &ClaimedJob, reason: &str) -> Result<(), sqlx::Error> {
    let now = now_ms();
    let mut tx = db.pool.begin().await?;
    sqlx::query("UPDATE transcode_jobs SET status = 'failed', lease_owner = NULL, error = $1, updated_at = $2 WHERE id = $3")
        .bind(reason)
        .bind(now)
        .bind(&job.id)
        .execute(&mut *tx)
        .await?;
    model::record(&mut *tx, &job.video_id, StatusChange::Failed { reason }).await?;
    let data = serde_json::json!({ "video_id": job.video_id, "reason": reason });
    webhooks::enqueue(&mut tx, Event::VideoFailed, data).await?;
    tx.commit().await
}

/// Backoff before retry `attempt` (1-based): 2 s, 8 s, 32 s, … capped at 10 min.
pub fn backoff(attempt: i64) -> Duration {
    let exp = attempt.clamp(1, 8) as u32 - 1;
    Duration::from_secs((2u64 * 4u64.pow(exp)).min(600))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn db_with_video() -> (tempfile::TempDir, Db) {
        let tmp = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}", tmp.path().join("q.db").display()))
            .await
            .unwrap();
        let now = now_ms();
        sqlx::query("INSERT INTO users (id, email, password_hash, role, created_at) VALUES ('u', 'u@x', 'h', 'creator', $1)")
            .bind(now)
            .execute(&db.pool)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO courses (id, title, owner_id, created_at) VALUES ('c', 'C', 'u', $1)",
        )
        .bind(now)
        .execute(&db.pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO videos (id, course_id, owner_id, title, status, created_at, updated_at) \
             VALUES ('v', 'c', 'u', 'V', 'uploading', $1, $1)",
        )
        .bind(now)
        .execute(&db.pool)
        .await
        .unwrap();
        (tmp, db)
    }

    const LEASE: Duration = Duration::from_secs(60);

    /// A claim that must succeed or find nothing; errors fail the test.
    async fn try_claim(db: &Db, owner: &str, lease: Duration) -> Option<ClaimedJob> {
        claim(db, owner, lease).await.unwrap()
    }

    /// Enqueues the fixture's video and claims its job as `owner`.
    async fn enqueue_and_claim(db: &Db, owner: &str, lease: Duration) -> ClaimedJob {
        enqueue(db, "v").await.unwrap();
        try_claim(db, owner, lease)
            .await
            .expect("the new job is claimable")
    }

    async fn video_status(db: &Db) -> (String, Option<String>) {
        sqlx::query_as("SELECT status, error FROM videos WHERE id = 'v'")
            .fetch_one(&db.pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn one_claim_per_job_and_expired_leases_are_reclaimed() {
        let (_tmp, db) = db_with_video().await;
        let job = enqueue_and_claim(&db, "w1", Duration::from_millis(200)).await;
        assert_eq!(job.attempts, 1);
        assert!(
            try_claim(&db, "w2", LEASE).await.is_none(),
            "leased job is not claimable"
        );
        assert_eq!(video_status(&db).await.0, "processing");
        tokio::time::sleep(Duration::from_millis(250)).await;
        let again = try_claim(&db, "w2", LEASE)
            .await
            .expect("expired lease reclaimed");
        assert_eq!((again.id.as_str(), again.attempts), (job.id.as_str(), 2));
        assert!(
            !heartbeat(&db, &job, "w1", LEASE).await.unwrap(),
            "w1 lost the lease"
        );
        assert!(heartbeat(&db, &again, "w2", LEASE).await.unwrap());
    }

    #[tokio::test]
    async fn retry_waits_and_failure_is_final() {
        let (_tmp, db) = db_with_video().await;
        let job = enqueue_and_claim(&db, "w", LEASE).await;
        retry_later(&db, &job, "storage unavailable", Duration::from_secs(30))
            .await
            .unwrap();
        assert!(try_claim(&db, "w", LEASE).await.is_none(), "not due yet");
        assert_eq!(video_status(&db).await.0, "queued");
        fail(&db, &job, "not a video: no video stream")
            .await
            .unwrap();
        assert_eq!(
            video_status(&db).await,
            ("failed".into(), Some("not a video: no video stream".into()))
        );
        assert!(try_claim(&db, "w", LEASE).await.is_none());
    }

    #[tokio::test]
    async fn ready_records_duration_and_renditions() {
        let (_tmp, db) = db_with_video().await;
        let job = enqueue_and_claim(&db, "w", LEASE).await;
        set_progress(&db, "v", 42).await.unwrap();
        let r = Rendition {
            name: "240p".into(),
            width: 320,
            height: 240,
            bandwidth: 400_000,
        };
        finish_ready(&db, &job, 4.04, &[r]).await.unwrap();
        let (status, progress, duration, renditions): (String, i64, i64, String) = sqlx::query_as(
            "SELECT status, progress, duration_ms, renditions FROM videos WHERE id = 'v'",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!((status.as_str(), progress, duration), ("ready", 100, 4040));
        assert!(renditions.contains("\"240p\""));
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(2), Duration::from_secs(8));
        assert_eq!(backoff(20), Duration::from_secs(600));
    }
}
