//! `sealcast storyboard-job`: one storyboard, in its own sandboxed process.
//!
//! The same confinement as a transcode job ([`crate::jobs::child`]): an
//! empty environment, the decrypted rendition (`--source`) the only file it
//! may open, no socket, no program to start, no secret, no key. It decodes
//! the file with the transcoder's storyboard code and sends the sheets and
//! the VTT to its parent as `put` frames ([`crate::jobs::protocol`]), then
//! `done` (with no renditions) or `error`.

use std::path::PathBuf;
use std::process::ExitCode;

use sealcast_transcoder::{ContentKey, Limits as MediaLimits, OutputSink, SinkError};

use crate::jobs::child::{confine, fail, log_format, EXIT_ORPHANED};
use crate::jobs::protocol::{self, Frame, JobDone};
use crate::jobs::sandbox::{self, Limits};

#[derive(clap::Args, Debug)]
pub struct StoryboardJobArgs {
    /// The decrypted rendition; the only file the job may read.
    #[arg(long)]
    pub source: PathBuf,
    /// The catalogue's duration, which chooses the thumbnail interval.
    #[arg(long)]
    pub duration_seconds: f64,
    /// Address-space limit for this process, in bytes.
    #[arg(long)]
    pub memory_limit: u64,
    /// CPU-time limit for this process, in seconds.
    #[arg(long)]
    pub cpu_seconds: u64,
    /// The parent's pid: the job exits if it is not its parent any more.
    #[arg(long)]
    pub parent_pid: u32,
    /// `plain` or `json`.
    #[arg(long, default_value = "plain")]
    pub log_format: String,
}

pub fn run(args: StoryboardJobArgs) -> ExitCode {
    crate::telemetry::init(log_format(&args.log_format));
    let limits = Limits {
        memory_bytes: args.memory_limit,
        cpu_seconds: args.cpu_seconds,
        open_files: sandbox::MEDIA_OPEN_FILES,
    };
    if let Err(code) = confine(args.parent_pid, &args.source, limits) {
        return code;
    }
    let mut sink = PipeSink;
    let limits = MediaLimits::default();
    match sealcast_transcoder::storyboard(&args.source, &limits, args.duration_seconds, &mut sink) {
        Ok(_) => {
            let done = JobDone {
                duration_seconds: args.duration_seconds,
                renditions: Vec::new(),
            };
            match protocol::send(&Frame::Done(done)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::from(EXIT_ORPHANED),
            }
        }
        Err(err) => fail(
            err.kind().as_str(),
            err.to_string(),
            err.is_bad_media(),
            err.is_retryable(),
        ),
    }
}

/// Every output goes to the parent, which stores it.
struct PipeSink;

impl OutputSink for PipeSink {
    fn content_key(&mut self, _key: &ContentKey) -> Result<String, SinkError> {
        Err(SinkError::new("a storyboard job has no content keys"))
    }

    fn put(&mut self, path: &str, bytes: &[u8]) -> Result<(), SinkError> {
        protocol::send(&Frame::Put {
            path: path.to_string(),
            bytes: bytes.to_vec(),
        })
        .map_err(|e| SinkError::new(format!("the parent stopped listening: {e}")))
    }
}
