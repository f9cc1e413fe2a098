//! Uploads: how large, how much per creator, how long an abandoned one lives.

use serde::{Deserialize, Serialize};

use super::checks::{at_least, given, seconds};
use super::ConfigError;
use crate::uploads::UploadSettings;

#[derive(clap::Args, Serialize, Deserialize, Debug, Default, Clone)]
#[command(next_help_heading = "Uploads")]
pub struct UploadArgs {
    /// Largest upload accepted, in bytes (default 20 GiB; larger: 413).
    #[arg(long, env = "SEALCAST_MAX_UPLOAD_BYTES")]
    pub max_upload_bytes: Option<u64>,
    /// Bytes of video one creator may store, uploads in flight included (0: no quota).
    #[arg(long, env = "SEALCAST_CREATOR_QUOTA_BYTES")]
    pub creator_quota_bytes: Option<u64>,
    /// An upload not touched for this many seconds expires and is swept.
    #[arg(long, env = "SEALCAST_UPLOAD_EXPIRY_SECS")]
    pub upload_expiry_secs: Option<u64>,
    /// How often the sweeper looks for expired uploads, in seconds.
    #[arg(long, env = "SEALCAST_UPLOAD_SWEEP_SECS")]
    pub upload_sweep_secs: Option<u64>,
    /// A long PATCH records its progress every this many bytes on local disk
    /// (S3: every part), so a crash loses at most that much (≥ 4096).
    #[arg(long, env = "SEALCAST_UPLOAD_CHECKPOINT_BYTES")]
    pub upload_checkpoint_bytes: Option<u64>,
}

impl UploadArgs {
    pub(super) fn defaults() -> Self {
        let d = UploadSettings::default();
        Self {
            max_upload_bytes: Some(d.max_size),
            creator_quota_bytes: Some(d.creator_quota),
            upload_expiry_secs: Some(d.expiry.as_secs()),
            upload_sweep_secs: Some(d.sweep_interval.as_secs()),
            upload_checkpoint_bytes: Some(d.checkpoint_bytes),
        }
    }

    pub(super) fn settings(self) -> Result<UploadSettings, ConfigError> {
        Ok(UploadSettings {
            max_size: at_least("max_upload_bytes", self.max_upload_bytes, 1)?,
            creator_quota: given("creator_quota_bytes", self.creator_quota_bytes)?,
            expiry: seconds(
                "upload_expiry_secs",
                self.upload_expiry_secs,
                1..=30 * 86400,
            )?,
            sweep_interval: seconds("upload_sweep_secs", self.upload_sweep_secs, 1..=86400)?,
            checkpoint_bytes: at_least(
                "upload_checkpoint_bytes",
                self.upload_checkpoint_bytes,
                4096,
            )?,
        })
    }
}
