//! Signed webhooks: admins register endpoints; every event lands in an outbox
//! in the same transaction as the change it announces; a dispatcher delivers
//! each one at least once, signed as the Standard Webhooks spec says, and
//! retries with exponential backoff for a day before it gives up (the dead
//! letter stays visible in the API).
//!
//! What it must never do: connect to an address it has not checked (private,
//! loopback and link-local addresses are refused after DNS resolution, at
//! registration and again before every attempt, and the request goes to the
//! checked address), follow a redirect, or return a secret after creation.
//! No HTTP framework types here: `http::webhooks` translates.

pub mod dispatcher;
pub mod endpoints;
pub mod outbox;
pub mod signing;
pub mod ssrf;

use std::time::Duration;

pub use endpoints::{Endpoint, NewEndpoint};
pub use outbox::{enqueue, Delivery, DeliveryStatus};

/// What an endpoint can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    VideoReady,
    VideoFailed,
    UploadCompleted,
    AccessRevoked,
    /// A learner's server-verified progress on a video first reached 90 %.
    ProgressCompleted,
}

impl Event {
    pub const ALL: [Event; 5] = [
        Event::VideoReady,
        Event::VideoFailed,
        Event::UploadCompleted,
        Event::AccessRevoked,
        Event::ProgressCompleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Event::VideoReady => "video.ready",
            Event::VideoFailed => "video.failed",
            Event::UploadCompleted => "upload.completed",
            Event::AccessRevoked => "access.revoked",
            Event::ProgressCompleted => "progress.completed",
        }
    }

    pub fn parse(name: &str) -> Option<Event> {
        Event::ALL.into_iter().find(|e| e.as_str() == name)
    }
}

/// How webhooks behave on this node.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Allow private, loopback and link-local addresses and plain `http`:
    /// for tests and closed networks only.
    pub allow_private: bool,
    /// The first retry's delay; each later one doubles, up to [`MAX_BACKOFF`].
    pub retry_base: Duration,
    /// How long a delivery is retried before it is marked failed.
    pub retry_window: Duration,
    /// How often the dispatcher looks for due deliveries.
    pub poll: Duration,
}

/// The longest pause between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// One attempt's limit, connection included.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_private: false,
            retry_base: Duration::from_secs(5),
            retry_window: Duration::from_secs(24 * 3600),
            poll: Duration::from_millis(500),
        }
    }
}

/// Why a webhook request was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    UrlRefused(String),
    #[error("{0}")]
    InvalidEvents(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("the webhook secret cannot be opened")]
    Sealed,
}
