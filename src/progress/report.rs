//! A course's progress for its owner: every enrolled learner against every
//! ready video, as JSON or as CSV for a spreadsheet.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::Serialize;
use utoipa::ToSchema;

use super::seconds;
use crate::db::Db;
use crate::videos::{model, VideoStatus};
use crate::webhooks::outbox::rfc3339;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CourseVideo {
    pub id: String,
    pub title: String,
    pub duration_seconds: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LearnerVideo {
    pub video_id: String,
    pub watched_seconds: f64,
    pub completed: bool,
    /// Unix seconds of the learner's last report on it, if any.
    pub last_watched_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LearnerProgress {
    pub user_id: String,
    pub email: String,
    pub completed_videos: usize,
    /// Completed videos over the course's ready videos, 0 to 1.
    pub completion: f64,
    /// One per course video, in the order of `videos`.
    pub videos: Vec<LearnerVideo>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CourseProgress {
    pub course_id: String,
    pub videos: Vec<CourseVideo>,
    pub learners: Vec<LearnerProgress>,
}

/// `(user_id, video_id, watched_ms, completed_at, updated_at)`.
type ProgressRow = (String, String, i64, Option<i64>, i64);

/// Every enrolled learner's progress on every ready video of the course.
pub async fn course_progress(db: &Db, course_id: &str) -> Result<CourseProgress, sqlx::Error> {
    let videos: Vec<CourseVideo> = model::list_for_course(db, course_id)
        .await?
        .into_iter()
        .filter(|v| v.status == VideoStatus::Ready)
        .map(|v| CourseVideo {
            duration_seconds: seconds(v.duration_ms.unwrap_or(0)),
            id: v.id,
            title: v.title,
        })
        .collect();
    let learners: Vec<(String, String)> = sqlx::query_as(
        "SELECT u.id, u.email FROM enrollments e JOIN users u ON u.id = e.user_id \
         WHERE e.course_id = $1 ORDER BY u.email",
    )
    .bind(course_id)
    .fetch_all(&db.pool)
    .await?;
    let rows: Vec<ProgressRow> = sqlx::query_as(
        "SELECT p.user_id, p.video_id, p.watched_ms, p.completed_at, p.updated_at \
         FROM video_progress p JOIN videos v ON v.id = p.video_id WHERE v.course_id = $1",
    )
    .bind(course_id)
    .fetch_all(&db.pool)
    .await?;
    let by_key: HashMap<(&str, &str), &ProgressRow> = rows
        .iter()
        .map(|r| ((r.0.as_str(), r.1.as_str()), r))
        .collect();
    let learners = learners
        .into_iter()
        .map(|(user_id, email)| {
            let per_video: Vec<LearnerVideo> = videos
                .iter()
                .map(|v| match by_key.get(&(user_id.as_str(), v.id.as_str())) {
                    Some(&&(_, _, watched, completed, updated)) => LearnerVideo {
                        video_id: v.id.clone(),
                        watched_seconds: seconds(watched),
                        completed: completed.is_some(),
                        last_watched_at: Some(updated / 1000),
                    },
                    None => LearnerVideo {
                        video_id: v.id.clone(),
                        watched_seconds: 0.0,
                        completed: false,
                        last_watched_at: None,
                    },
                })
                .collect();
            let completed_videos = per_video.iter().filter(|v| v.completed).count();
            LearnerProgress {
                completion: if videos.is_empty() {
                    0.0
                } else {
                    completed_videos as f64 / videos.len() as f64
                },
                completed_videos,
                user_id,
                email,
                videos: per_video,
            }
        })
        .collect();
    Ok(CourseProgress {
        course_id: course_id.to_string(),
        videos,
        learners,
    })
}

/// A CSV field (RFC 4180 quoting). A field a spreadsheet would run as a
/// formula (`=`, `+`, `-`, `@`, tab, CR first) is prefixed with `'`.
fn field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// One row per learner and video, times in RFC 3339 UTC.
pub fn to_csv(report: &CourseProgress) -> String {
    let mut out = String::from(
        "user_id,email,video_id,video_title,duration_seconds,watched_seconds,completed,last_watched_at\r\n",
    );
    for learner in &report.learners {
        for (video, progress) in report.videos.iter().zip(&learner.videos) {
            let last = progress
                .last_watched_at
                .map(|s| rfc3339(s * 1000))
                .unwrap_or_default();
            let _ = write!(
                out,
                "{},{},{},{},{:.3},{:.3},{},{}\r\n",
                field(&learner.user_id),
                field(&learner.email),
                field(&video.id),
                field(&video.title),
                video.duration_seconds,
                progress.watched_seconds,
                progress.completed,
                last,
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(field("-1,2"), "\"'-1,2\"");
    }

    #[test]
    fn one_row_per_learner_and_video() {
        let report = CourseProgress {
            course_id: "c".into(),
            videos: vec![CourseVideo {
                id: "v1".into(),
                title: "Intro, part 1".into(),
                duration_seconds: 12.0,
            }],
            learners: vec![LearnerProgress {
                user_id: "u1".into(),
                email: "a@example.test".into(),
                completed_videos: 1,
                completion: 1.0,
                videos: vec![LearnerVideo {
                    video_id: "v1".into(),
                    watched_seconds: 11.5,
                    completed: true,
                    last_watched_at: Some(0),
                }],
            }],
        };
        let csv = to_csv(&report);
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(
            lines[1],
            "u1,a@example.test,v1,\"Intro, part 1\",12.000,11.500,true,1970-01-01T00:00:00.000Z"
        );
        assert_eq!(lines.len(), 3);
    }
}
