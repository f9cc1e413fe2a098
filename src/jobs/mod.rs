//! Transcoding in the server: a durable queue in the database, a pool of
//! workers, and one child process per job.
//!
//! A job runs as `sealcast transcode-job` (this same binary re-executed), a
//! pure media transform in a [`sandbox`] with a wall-time limit, so a hostile
//! file can crash or exhaust only its own process and reaches neither the
//! database, the storage nor the secrets. The worker copies the upload into a
//! private [`workdir`] (gone however the job ends) and stores what the child
//! sends back ([`protocol`]): segments to object storage as they are
//! produced, content keys sealed (the child only ever sees the custody
//! public key) into the database. Workers hold a lease they renew while the
//! child runs; a job whose worker died is taken up again once its lease runs
//! out.

pub mod child;
pub mod confinement;
pub mod protocol;
pub mod queue;
pub mod sandbox;
mod sink;
mod supervise;
pub mod workdir;
pub mod worker;

use std::time::Duration;

use sealcast_transcoder::{Rung, TranscodeOptions};

/// How the server transcodes; every field is a setting.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// Concurrent jobs on this node (0: this node runs no worker).
    pub workers: usize,
    /// A job still running after this is killed and failed.
    pub timeout: Duration,
    /// Address-space limit of a job's process, in bytes.
    pub memory_limit: u64,
    /// How long a claimed job stays claimed without a heartbeat.
    pub lease: Duration,
    /// How often idle workers look for work.
    pub poll: Duration,
    /// Keep the original upload (in the private `originals/` prefix) after success.
    pub keep_originals: bool,
    /// Ladder heights; bitrates from the default ladder.
    pub rungs: Vec<u32>,
    pub segment_seconds: f64,
    pub rotate_every: u32,
    pub preset: String,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            workers: 1,
            timeout: Duration::from_secs(3 * 3600),
            memory_limit: 6 * 1024 * 1024 * 1024,
            lease: Duration::from_secs(15),
            poll: Duration::from_secs(1),
            keep_originals: false,
            rungs: Rung::default_ladder().iter().map(|r| r.height).collect(),
            segment_seconds: 6.0,
            rotate_every: 10,
            preset: "veryfast".into(),
        }
    }
}

/// The transcoder options for a ladder of heights, bitrates from the default
/// table (or scaled by height for heights not in it).
pub fn transcode_options(
    heights: &[u32],
    segment_seconds: f64,
    rotate_every: u32,
    preset: &str,
) -> TranscodeOptions {
    let defaults = Rung::default_ladder();
    let rungs = heights
        .iter()
        .map(|&height| {
            let video_bitrate = defaults
                .iter()
                .find(|r| r.height == height)
                .map(|r| r.video_bitrate)
                .unwrap_or_else(|| {
                    (u64::from(height) * u64::from(height) * 4).clamp(100_000, 20_000_000)
                });
            Rung {
                height,
                video_bitrate,
            }
        })
        .collect();
    TranscodeOptions {
        rungs,
        segment_seconds,
        rotate_every,
        preset: preset.to_string(),
        ..TranscodeOptions::default()
    }
}
