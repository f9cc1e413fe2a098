//! Tokens, playback sessions, key pacing and login limits.

use serde::{Deserialize, Serialize};

use super::checks::{seconds, within};
use super::ConfigError;
use crate::identity::{ExternalIssuerSettings, IdentitySettings};

#[derive(clap::Args, Serialize, Deserialize, Debug, Default, Clone)]
#[command(next_help_heading = "Tokens, sessions and limits")]
pub struct IdentityArgs {
    /// Lifetime of access tokens in seconds.
    #[arg(long, env = "SEALCAST_ACCESS_TOKEN_TTL_SECS")]
    pub access_token_ttl_secs: Option<u64>,
    /// Lifetime of refresh tokens in seconds.
    #[arg(long, env = "SEALCAST_REFRESH_TOKEN_TTL_SECS")]
    pub refresh_token_ttl_secs: Option<u64>,
    /// Live playback sessions per user; starting one more ends the oldest.
    #[arg(long, env = "SEALCAST_MAX_LIVE_SESSIONS")]
    pub max_live_sessions: Option<u32>,
    /// Seconds a playback session outlives the video's duration (pauses, seeks).
    #[arg(long, env = "SEALCAST_PLAYBACK_SLACK_SECS")]
    pub playback_slack_secs: Option<u64>,
    /// Seconds of media a user may unlock at once per video, across their sessions
    /// (start-up, buffer goal, seeks); below the players' buffer goals, they stall.
    #[arg(long, env = "SEALCAST_KEY_PACING_ALLOWANCE_SECS")]
    pub key_pacing_allowance_secs: Option<u64>,
    /// How much faster than real time a user's key allowance grows.
    #[arg(long, env = "SEALCAST_KEY_PACING_SPEEDUP")]
    pub key_pacing_speedup: Option<u32>,
    /// Login attempts per minute from one IP address.
    #[arg(long, env = "SEALCAST_LOGIN_ATTEMPTS_PER_IP")]
    pub login_attempts_per_ip: Option<u32>,
    /// Login attempts per minute for one account (email).
    #[arg(long, env = "SEALCAST_LOGIN_ATTEMPTS_PER_EMAIL")]
    pub login_attempts_per_email: Option<u32>,
    /// Key requests per second per playback session (burst 4×), repeats included.
    #[arg(long, env = "SEALCAST_KEY_REQUESTS_PER_SECOND")]
    pub key_requests_per_second: Option<u32>,
    /// Playback sessions one user may start per minute (also the burst).
    #[arg(long, env = "SEALCAST_PLAYBACK_STARTS_PER_MINUTE")]
    pub playback_starts_per_minute: Option<u32>,
}

impl IdentityArgs {
    pub(super) fn defaults() -> Self {
        let d = IdentitySettings::default();
        Self {
            access_token_ttl_secs: Some(d.access_token_ttl.as_secs()),
            refresh_token_ttl_secs: Some(d.refresh_token_ttl.as_secs()),
            max_live_sessions: Some(d.max_live_sessions),
            playback_slack_secs: Some(d.playback_slack.as_secs()),
            key_pacing_allowance_secs: Some(d.pacing.initial_allowance.as_secs()),
            key_pacing_speedup: Some(d.pacing.speedup),
            login_attempts_per_ip: Some(d.login_attempts_per_ip),
            login_attempts_per_email: Some(d.login_attempts_per_email),
            key_requests_per_second: Some(d.key_requests_per_second),
            playback_starts_per_minute: Some(d.playback_starts_per_minute),
        }
    }

    pub(super) fn settings(
        self,
        external: Option<ExternalIssuerSettings>,
    ) -> Result<IdentitySettings, ConfigError> {
        let per_minute = 1..=100_000;
        Ok(IdentitySettings {
            access_token_ttl: seconds(
                "access_token_ttl_secs",
                self.access_token_ttl_secs,
                30..=86_400,
            )?,
            refresh_token_ttl: seconds(
                "refresh_token_ttl_secs",
                self.refresh_token_ttl_secs,
                60..=365 * 86_400,
            )?,
            max_live_sessions: within("max_live_sessions", self.max_live_sessions, 1..=100)?,
            playback_slack: seconds("playback_slack_secs", self.playback_slack_secs, 0..=86_400)?,
            pacing: sealcast_keyserver::PacingConfig {
                initial_allowance: seconds(
                    "key_pacing_allowance_secs",
                    self.key_pacing_allowance_secs,
                    1..=86_400,
                )?,
                speedup: within("key_pacing_speedup", self.key_pacing_speedup, 1..=1_000)?,
                ..Default::default()
            },
            login_attempts_per_ip: within(
                "login_attempts_per_ip",
                self.login_attempts_per_ip,
                per_minute.clone(),
            )?,
            login_attempts_per_email: within(
                "login_attempts_per_email",
                self.login_attempts_per_email,
                per_minute,
            )?,
            key_requests_per_second: within(
                "key_requests_per_second",
                self.key_requests_per_second,
                1..=1_000_000,
            )?,
            playback_starts_per_minute: within(
                "playback_starts_per_minute",
                self.playback_starts_per_minute,
                1..=10_000,
            )?,
            external,
        })
    }
}
