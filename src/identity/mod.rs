//! Identity and playback entitlement in the database: users and passwords,
//! courses and enrollments, refresh tokens, playback sessions, revocation and
//! the audit log. No HTTP here: handlers in `http::identity`, the CLI and the
//! `serve --demo` seeding all call these functions.
//!
//! What it must never do: store a password or a refresh token in the clear,
//! cache who may watch what (revocation must bite on the next key request on
//! every node), or leave a revocation half applied.

pub mod audit;
pub mod audit_writer;
pub mod courses;
pub mod external;
mod login_limits;
pub mod passwords;
pub mod preferences;
pub mod refresh;
pub mod revocation;
mod session_limits;
pub mod sessions;
pub mod stream_tickets;
pub mod users;

use std::time::Duration;

pub use courses::{create_course, enroll, Course, Enrollment};
pub use login_limits::LoginLimits;
pub use sealcast_keyserver::{PacingConfig, Role};
pub use session_limits::SessionStartLimits;
pub use users::{create_user, User};

/// Which parts of sealcast a process runs (`--roles`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// API, playlists, segments, uploads.
    pub edge: bool,
    /// The key route; the only role that reads the custody master private key.
    pub keyserver: bool,
    /// Transcode workers.
    pub worker: bool,
}

impl Roles {
    pub fn all() -> Self {
        Self {
            edge: true,
            keyserver: true,
            worker: true,
        }
    }

    pub fn none() -> Self {
        Self {
            edge: false,
            keyserver: false,
            worker: false,
        }
    }
}

/// Identity and playback knobs; every field is a setting.
#[derive(Debug, Clone)]
pub struct IdentitySettings {
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// Live playback sessions per user (default 3); a new one ends the oldest.
    pub max_live_sessions: u32,
    /// How long a session outlives the video's duration.
    pub playback_slack: Duration,
    pub pacing: PacingConfig,
    /// Login attempts per minute per client IP.
    pub login_attempts_per_ip: u32,
    /// Login attempts per minute per account.
    pub login_attempts_per_email: u32,
    /// Key requests per second per playback session (burst 4×).
    pub key_requests_per_second: u32,
    /// Playback sessions one user may start per minute (also the burst).
    pub playback_starts_per_minute: u32,
    /// One trusted external token issuer (a course platform's login).
    pub external: Option<ExternalIssuerSettings>,
}

/// Where the external issuer's public keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExternalKeyLocation {
    PemFile(std::path::PathBuf),
    JwksFile(std::path::PathBuf),
    /// Fetched at start and refreshed periodically.
    JwksUrl(String),
}

/// The external issuer's settings (see `sealcast_keyserver::ExternalIssuerConfig`).
#[derive(Debug, Clone)]
pub struct ExternalIssuerSettings {
    pub issuer: String,
    pub audience: String,
    pub algorithm: sealcast_keyserver::ExternalAlgorithm,
    pub key: ExternalKeyLocation,
    pub user_claim: String,
    pub role_claim: String,
    /// Subjects that are admins here; none by default (a role claim never is).
    pub admin_subjects: Vec<String>,
}

impl Default for IdentitySettings {
    fn default() -> Self {
        Self {
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 86_400),
            max_live_sessions: 3,
            playback_slack: Duration::from_secs(30 * 60),
            pacing: PacingConfig::default(),
            login_attempts_per_ip: 30,
            login_attempts_per_email: 10,
            key_requests_per_second: 20,
            playback_starts_per_minute: 10,
            external: None,
        }
    }
}

/// Failures of identity operations; the HTTP layer maps each to a stable code.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("this email is already registered")]
    EmailTaken,
    #[error("already enrolled")]
    AlreadyEnrolled,
    #[error("{1}")]
    Invalid(Invalid, String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("password hashing: {0}")]
    Hash(String),
}

/// Which input an [`IdentityError::Invalid`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    Email,
    Role,
    Title,
    /// A playback speed outside 0.5–2 or finer than hundredths.
    PlaybackRate,
    Password,
    /// An external identity token whose claims cannot be used.
    Token,
}

/// Whether a database error is a unique-constraint violation (both dialects).
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_unique_violation())
}

/// Maps a failed insert: a unique-constraint violation means the row is
/// already there and becomes `taken`; anything else stays a database error.
pub(crate) fn taken_or_db(taken: IdentityError) -> impl FnOnce(sqlx::Error) -> IdentityError {
    move |e| {
        if is_unique_violation(&e) {
            taken
        } else {
            IdentityError::Db(e)
        }
    }
}
