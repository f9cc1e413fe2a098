//! The progress tables: recording a heartbeat (one transaction: resume
//! position, credited ranges, the session's last report, and the
//! `progress.completed` outbox row the first time 90 % is reached) and
//! reading a learner's progress.

use super::ranges::{clamp_position, credit, is_complete, Heartbeat, PositionError, Ranges};
use super::{deliveries, seconds, timeline, ProgressError, Report, VideoProgress};
use crate::app::App;
use crate::db::{now_ms, Db, Dialect};
use crate::identity::sessions::SessionRow;
use crate::videos::Video;
use crate::webhooks::{self, Event};

/// `(position_ms, watched_ms, watched_ranges, completed_at, updated_at)`.
type Row = (i64, i64, String, Option<i64>, i64);

fn parse_ranges(json: &str) -> Ranges {
    let pairs: Vec<(i64, i64)> = serde_json::from_str(json).unwrap_or_default();
    Ranges::from_intervals(pairs)
}

fn render(video: &Video, row: Option<Row>) -> VideoProgress {
    let duration_ms = video.duration_ms.unwrap_or(0).max(0);
    let (position, watched, ranges, completed_at, updated) = match row {
        Some((p, w, r, c, u)) => (p, w, parse_ranges(&r), c, Some(u)),
        None => (0, 0, Ranges::default(), None, None),
    };
    VideoProgress {
        video_id: video.id.clone(),
        position_seconds: seconds(position),
        watched_seconds: seconds(watched),
        duration_seconds: seconds(duration_ms),
        completed: completed_at.is_some(),
        watched_ranges: ranges
            .as_slice()
            .iter()
            .map(|&(s, e)| [seconds(s), seconds(e)])
            .collect(),
        last_watched_at: updated.map(|ms| ms / 1000),
    }
}

/// `user_id`'s progress on `video` (zeros before the first report).
pub async fn read(db: &Db, user_id: &str, video: &Video) -> Result<VideoProgress, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT position_ms, watched_ms, watched_ranges, completed_at, updated_at \
         FROM video_progress WHERE user_id = $1 AND video_id = $2",
    )
    .bind(user_id)
    .bind(&video.id)
    .fetch_optional(&db.pool)
    .await?;
    Ok(render(video, row))
}

/// Records a report on `session` (the caller checked it is theirs and of
/// `video`) and credits it by the rules in [`super::ranges`]. A refused
/// position stores nothing.
pub async fn record_heartbeat(
    app: &App,
    session: &SessionRow,
    video: &Video,
    report: Report,
) -> Result<VideoProgress, ProgressError> {
    let duration_ms = video.duration_ms.unwrap_or(0).max(0);
    let position_ms =
        clamp_position(report.position_seconds, duration_ms).map_err(|e| match e {
            PositionError::Invalid => ProgressError::InvalidPosition,
            PositionError::BeyondDuration => ProgressError::BeyondDuration {
                position: report.position_seconds,
                duration: seconds(duration_ms),
            },
        })?;
    // What this node sent the session goes to the database first, so the
    // credit below sees every segment, wherever it was served.
    app.deliveries.flush_session(&app.db, &session.id).await?;
    let sent = deliveries::of_session(&app.db, &session.id).await?;
    let covered = timeline::covered(&*app.storage, &video.id, &sent).await?;

    let now = now_ms();
    let (user_id, video_id) = (&session.user_id, &video.id);
    let mut tx = app.db.pool.begin().await?;
    // Writing first takes SQLite's write lock; PostgreSQL locks the row
    // below. Either way two reports for one learner and video queue up.
    sqlx::query(
        "INSERT INTO video_progress (user_id, video_id, position_ms, watched_ms, watched_ranges, updated_at) \
         VALUES ($1, $2, 0, 0, '[]', $3) ON CONFLICT DO NOTHING",
    )
    .bind(user_id)
    .bind(video_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let lock = match app.db.dialect {
        Dialect::Postgres => " FOR UPDATE",
        Dialect::Sqlite => "",
    };
    let (watched, completed_at): (String, Option<i64>) = sqlx::query_as(&format!(
        "SELECT watched_ranges, completed_at FROM video_progress \
         WHERE user_id = $1 AND video_id = $2{lock}"
    ))
    .bind(user_id)
    .bind(video_id)
    .fetch_one(&mut *tx)
    .await?;
    let prev: Option<(i64, i64)> = sqlx::query_as(
        "SELECT position_ms, playing FROM playback_heartbeats WHERE session_id = $1",
    )
    .bind(&session.id)
    .fetch_optional(&mut *tx)
    .await?;
    let prev = prev.map(|(position_ms, playing)| Heartbeat {
        position_ms,
        playing: playing != 0,
    });
    let credited = credit(prev, position_ms, &covered);
    let watched = parse_ranges(&watched)
        .union(&credited)
        .intersect(0, duration_ms);
    let watched_ms = watched.total();
    let newly_completed = completed_at.is_none() && is_complete(watched_ms, duration_ms);
    let json = serde_json::to_string(watched.as_slice()).unwrap_or_else(|_| "[]".into());
    sqlx::query(
        "UPDATE video_progress SET position_ms = $1, watched_ms = $2, watched_ranges = $3, \
         updated_at = $4, completed_at = COALESCE(completed_at, $5) WHERE user_id = $6 AND video_id = $7",
    )
    .bind(position_ms)
    .bind(watched_ms)
    .bind(&json)
    .bind(now)
    .bind(newly_completed.then_some(now))
    .bind(user_id)
    .bind(video_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO playback_heartbeats (session_id, position_ms, playing, at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (session_id) DO UPDATE SET position_ms = excluded.position_ms, \
         playing = excluded.playing, at = excluded.at",
    )
    .bind(&session.id)
    .bind(position_ms)
    .bind(i64::from(report.playing))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if newly_completed {
        let data = serde_json::json!({
            "user_id": user_id,
            "video_id": video_id,
            "course_id": video.course_id,
            "watched_seconds": seconds(watched_ms),
            "duration_seconds": seconds(duration_ms),
        });
        webhooks::enqueue(&mut tx, Event::ProgressCompleted, data).await?;
    }
    tx.commit().await?;
    let row = (
        position_ms,
        watched_ms,
        json,
        completed_at.or(newly_completed.then_some(now)),
        now,
    );
    Ok(render(video, Some(row)))
}
