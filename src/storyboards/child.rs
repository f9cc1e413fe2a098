//! `sealcast storyboard-job`: one storyboard, in its own sandboxed process.
//!
//! The same confinement as a transcode job ([`crate::jobs::child`]): an
//! empty environment, the decrypted rendition (`--source`) the only file it
//! may open, no socket, no program to start, no secret, no key. It decodes
//! the file with the transcoder's storyboard code and sends the sheets and
//! the VTT to its parent as `put` frames ([`crate::jobs::protocol`]), then
//! `done` (with no renditions) or `error`.

use std::process::ExitCode;

use sealcast_transcoder::{ContentKey, Limits as MediaLimits, OutputSink, SinkError};

use crate::jobs::child::{fail, EXIT_ORPHANED};
use crate::jobs::confinement::Confinement;
use crate::jobs::protocol::{self, Frame, JobDone};

#[derive(clap::Args, Debug)]
pub struct StoryboardJobArgs {
    /// The catalogue's duration, which chooses the thumbnail interval.
    #[arg(long)]
    pub duration_seconds: f64,
    /// The decrypted rendition, the limits and the parent.
    #[command(flatten)]
    pub confinement: Confinement,
}

pub fn run(args: StoryboardJobArgs) -> ExitCode {
    if let Err(code) = args.confinement.enter() {
        return code;
    }
    let mut sink = PipeSink;
    let limits = MediaLimits::default();
    match sealcast_transcoder::storyboard(
        &args.confinement.source,
        &limits,
        args.duration_seconds,
        &mut sink,
    ) {
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
