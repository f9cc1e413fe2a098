//! Transcode jobs: how many run here, their limits and the ladder they produce.

use serde::{Deserialize, Serialize};

use super::checks::{at_least, given, seconds, within};
use super::ConfigError;
use crate::jobs::JobSettings;

const MIB: u64 = 1024 * 1024;

#[derive(clap::Args, Serialize, Deserialize, Debug, Default, Clone)]
#[command(next_help_heading = "Transcode jobs")]
pub struct JobArgs {
    /// Transcode jobs run at once on this node (0: no worker here).
    #[arg(long, env = "SEALCAST_WORKERS")]
    pub workers: Option<usize>,
    /// A transcode job still running after this many seconds is stopped.
    #[arg(long, env = "SEALCAST_JOB_TIMEOUT_SECS")]
    pub job_timeout_secs: Option<u64>,
    /// Address-space limit of a transcode job's process, in MiB.
    #[arg(long, env = "SEALCAST_JOB_MEMORY_MIB")]
    pub job_memory_mib: Option<u64>,
    /// Seconds a claimed job stays claimed without a heartbeat.
    #[arg(long, env = "SEALCAST_JOB_LEASE_SECS")]
    pub job_lease_secs: Option<u64>,
    /// Keep original uploads (private prefix, never served) after transcoding.
    #[arg(long, env = "SEALCAST_KEEP_ORIGINALS", action = clap::ArgAction::Set)]
    pub keep_originals: Option<bool>,
    /// Ladder heights, e.g. `1080,720,480,360,240`.
    #[arg(long, env = "SEALCAST_TRANSCODE_RUNGS", value_delimiter = ',')]
    pub transcode_rungs: Option<Vec<u32>>,
    /// Target HLS segment length in seconds.
    #[arg(long, env = "SEALCAST_SEGMENT_SECONDS")]
    pub segment_seconds: Option<f64>,
    /// A new content key every this many segments.
    #[arg(long, env = "SEALCAST_ROTATE_EVERY")]
    pub rotate_every: Option<u32>,
    /// x264 preset for transcode jobs.
    #[arg(long, env = "SEALCAST_X264_PRESET")]
    pub x264_preset: Option<String>,
}

impl JobArgs {
    pub(super) fn defaults() -> Self {
        let d = JobSettings::default();
        Self {
            workers: Some(d.workers),
            job_timeout_secs: Some(d.timeout.as_secs()),
            job_memory_mib: Some(d.memory_limit / MIB),
            job_lease_secs: Some(d.lease.as_secs()),
            keep_originals: Some(d.keep_originals),
            transcode_rungs: Some(d.rungs),
            segment_seconds: Some(d.segment_seconds),
            rotate_every: Some(d.rotate_every),
            x264_preset: Some(d.preset),
        }
    }

    pub(super) fn settings(self) -> Result<JobSettings, ConfigError> {
        let rungs = given("transcode_rungs", self.transcode_rungs)?;
        if rungs.is_empty() || rungs.iter().any(|h| !(64..=4320).contains(h)) {
            return Err(ConfigError::new(
                "transcode_rungs",
                "heights must be within 64..=4320, at least one",
            ));
        }
        let preset = given("x264_preset", self.x264_preset)?;
        if !sealcast_transcoder::X264_PRESETS.contains(&preset.as_str()) {
            return Err(ConfigError::new(
                "x264_preset",
                format!("`{preset}` is not an x264 preset"),
            ));
        }
        Ok(JobSettings {
            workers: within("workers", self.workers, 0..=64)?,
            timeout: seconds("job_timeout_secs", self.job_timeout_secs, 10..=7 * 86400)?,
            memory_limit: within("job_memory_mib", self.job_memory_mib, 256..=1024 * 1024)? * MIB,
            lease: seconds("job_lease_secs", self.job_lease_secs, 2..=3600)?,
            poll: JobSettings::default().poll,
            keep_originals: given("keep_originals", self.keep_originals)?,
            rungs,
            segment_seconds: within("segment_seconds", self.segment_seconds, 1.0..=30.0)?,
            rotate_every: at_least("rotate_every", self.rotate_every, 1)?,
            preset,
        })
    }
}
