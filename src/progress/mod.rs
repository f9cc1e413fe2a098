//! Server-verified viewing progress: resume positions, watched ranges and
//! completion, credited only for media the server actually sent.
//!
//! Players report their position ([`record_heartbeat`]); the segment route
//! notes what each session was sent ([`DeliveryLog`]); the rule that turns
//! the two into credit is [`ranges`], pure and unit-tested. A learner's video
//! first reaching 90 % emits `progress.completed` in the same transaction.
//!
//! What it must never do: credit media time no segment of the session
//! covered, or put a database round trip on the segment route.

pub mod deliveries;
pub mod ranges;
pub mod report;
mod store;
pub mod timeline;

use serde::Serialize;
use utoipa::ToSchema;

pub use deliveries::DeliveryLog;
pub use ranges::PositionError;
pub use report::{course_progress, CourseProgress};
pub use store::{read, record_heartbeat};

/// One learner's progress on one video, as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct VideoProgress {
    pub video_id: String,
    /// Where to resume.
    pub position_seconds: f64,
    /// Media time credited (each part once).
    pub watched_seconds: f64,
    pub duration_seconds: f64,
    /// Watched ≥ 90 %.
    pub completed: bool,
    /// Credited `[start, end]` pairs in seconds, sorted and disjoint.
    #[schema(value_type = Vec<Vec<f64>>)]
    pub watched_ranges: Vec<[f64; 2]>,
    /// Unix seconds of the last report, if any.
    pub last_watched_at: Option<i64>,
}

/// A player's report.
#[derive(Debug, Clone, Copy)]
pub struct Report {
    pub position_seconds: f64,
    pub playing: bool,
}

/// Why a report was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum ProgressError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    #[error("position_seconds must be a number ≥ 0")]
    InvalidPosition,
    #[error("position_seconds {position} is beyond the video's duration of {duration} s")]
    BeyondDuration { position: f64, duration: f64 },
}

fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}
