//! Webhooks: whether private addresses may receive them, and (hidden, for
//! tests) how fast retries come and for how long.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::checks::{given, within};
use super::ConfigError;
use crate::webhooks::WebhookSettings;

#[derive(clap::Args, Serialize, Deserialize, Debug, Default, Clone)]
#[command(next_help_heading = "Webhooks")]
pub struct WebhookArgs {
    /// Let webhooks reach private, loopback and link-local addresses and plain
    /// `http` URLs. For tests and closed networks only: it opens the door to SSRF.
    #[arg(long, env = "SEALCAST_WEBHOOK_ALLOW_PRIVATE", num_args = 0..=1,
          default_missing_value = "true", action = clap::ArgAction::Set)]
    pub webhook_allow_private: Option<bool>,
    /// First retry delay in milliseconds (then doubling, capped at 1 h).
    #[arg(long, env = "SEALCAST_WEBHOOK_RETRY_BASE_MS", hide = true)]
    pub webhook_retry_base_ms: Option<u64>,
    /// Seconds a delivery is retried before it is marked failed.
    #[arg(long, env = "SEALCAST_WEBHOOK_RETRY_WINDOW_SECS", hide = true)]
    pub webhook_retry_window_secs: Option<u64>,
}

impl WebhookArgs {
    pub(super) fn defaults() -> Self {
        let d = WebhookSettings::default();
        Self {
            webhook_allow_private: Some(d.allow_private),
            webhook_retry_base_ms: Some(d.retry_base.as_millis() as u64),
            webhook_retry_window_secs: Some(d.retry_window.as_secs()),
        }
    }

    pub(super) fn settings(self) -> Result<WebhookSettings, ConfigError> {
        let base = within(
            "webhook_retry_base_ms",
            self.webhook_retry_base_ms,
            10..=3_600_000,
        )?;
        let window = within(
            "webhook_retry_window_secs",
            self.webhook_retry_window_secs,
            1..=7 * 86400,
        )?;
        let mut settings = WebhookSettings {
            allow_private: given("webhook_allow_private", self.webhook_allow_private)?,
            retry_base: Duration::from_millis(base),
            retry_window: Duration::from_secs(window),
            ..WebhookSettings::default()
        };
        // Quick retries want a quick look for due deliveries too.
        settings.poll = settings.poll.min(settings.retry_base);
        Ok(settings)
    }
}
