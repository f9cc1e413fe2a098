//! `sealcast transcode-job`: one job, in its own sandboxed process.
//!
//! A pure media transform: the worker hands it a private copy of the upload
//! (`--source`) and non-secret settings as flags, with an empty environment;
//! it has no database URL, no storage credentials, no secret and, once
//! [`sandbox::apply`] has run, no way to open any other file, create a
//! socket or start a program. Content keys are sealed here to the key
//! server's public key, so the raw keys never leave this process. Outputs
//! go back to the worker on stdout ([`protocol`]). It dies with its worker
//! (parent-death signal, and stdin closing).

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use base64::Engine;
use sealcast_keyserver::{seal, KeyContext, MasterPublicKey};
use sealcast_transcoder::{ContentKey, OutputSink, SinkError};

use super::confinement::Confinement;
use super::protocol::{self, Frame, JobDone, JobFailed};
use super::sandbox::{self, Limits, Policy};
use super::transcode_options;
use crate::config::LogFormat;
use crate::playback::key_placeholder;
use crate::videos::Rendition;

#[derive(clap::Args, Debug)]
pub struct TranscodeJobArgs {
    /// The video to transcode (names the content keys).
    pub video_id: String,
    /// The key server's custody public key (base64), to seal content keys to.
    #[arg(long)]
    pub master_public_key: String,
    #[arg(long, value_delimiter = ',', required = true)]
    pub job_rungs: Vec<u32>,
    #[arg(long)]
    pub job_segment_seconds: f64,
    #[arg(long)]
    pub job_rotate_every: u32,
    #[arg(long)]
    pub job_preset: String,
    /// The private copy of the upload, the limits and the parent.
    #[command(flatten)]
    pub confinement: Confinement,
}

/// Exit codes the worker interprets.
pub const EXIT_BAD_MEDIA: u8 = 10;
pub const EXIT_RETRYABLE: u8 = 11;
pub const EXIT_OTHER: u8 = 12;
pub const EXIT_ORPHANED: u8 = 70;

/// Says why the job failed, on the protocol, and picks the exit code.
pub(crate) fn fail(kind: &str, message: String, bad_media: bool, retryable: bool) -> ExitCode {
    let _ = protocol::send(&Frame::Failed(JobFailed {
        kind: kind.into(),
        message,
        bad_media,
        retryable,
    }));
    ExitCode::from(if bad_media {
        EXIT_BAD_MEDIA
    } else if retryable {
        EXIT_RETRYABLE
    } else {
        EXIT_OTHER
    })
}

/// The log format named by a child's `--log-format`.
pub fn log_format(name: &str) -> LogFormat {
    if name == "json" {
        LogFormat::Json
    } else {
        LogFormat::Plain
    }
}

pub fn run(args: TranscodeJobArgs) -> ExitCode {
    if let Err(code) = args.confinement.enter() {
        return code;
    }
    let master_public = match base64::engine::general_purpose::STANDARD
        .decode(&args.master_public_key)
        .map_err(|e| e.to_string())
        .and_then(|b| sealcast_keyserver::public_key_from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(key) => key,
        Err(err) => {
            return fail(
                "config",
                format!("bad master public key: {err}"),
                false,
                false,
            )
        }
    };
    let options = transcode_options(
        &args.job_rungs,
        args.job_segment_seconds,
        args.job_rotate_every,
        &args.job_preset,
    );
    let mut sink = PipeSink {
        video_id: args.video_id.clone(),
        master_public,
    };
    let mut last = -1i32;
    let mut progress = |p: f32| {
        let p = p.clamp(0.0, 1.0);
        let percent = (p * 100.0) as i32;
        if percent != last {
            last = percent;
            let _ = protocol::send(&Frame::Progress(p));
        }
    };
    match sealcast_transcoder::transcode(
        &args.confinement.source,
        &options,
        &mut sink,
        &mut progress,
    ) {
        Ok(report) => {
            let done = JobDone {
                duration_seconds: report.duration_seconds,
                renditions: report
                    .renditions
                    .iter()
                    .map(|r| Rendition {
                        name: r.name.clone(),
                        width: r.width,
                        height: r.height,
                        bandwidth: r.bandwidth,
                    })
                    .collect(),
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

/// What every media job child does first: die with its worker, enter the
/// sandbox with `source` as the one readable file, and exit once the
/// worker closes our stdin. Threads may start only after this.
pub(crate) fn confine(parent_pid: u32, source: &Path, limits: Limits) -> Result<(), ExitCode> {
    if sandbox::die_with_parent(parent_pid).is_err() {
        return Err(ExitCode::from(EXIT_ORPHANED));
    }
    let policy = Policy {
        read_files: vec![source.to_path_buf()],
        limits,
    };
    if let Err(err) = sandbox::apply(&policy) {
        return Err(fail("sandbox", err.to_string(), false, false));
    }
    // The parent holds our stdin; when it dies, this read returns.
    std::thread::spawn(|| {
        let mut sink = [0u8; 64];
        while let Ok(n) = std::io::stdin().read(&mut sink) {
            if n == 0 {
                break;
            }
        }
        std::process::exit(i32::from(EXIT_ORPHANED));
    });
    Ok(())
}

/// The transcoder's sink inside the child: everything goes to the worker.
struct PipeSink {
    video_id: String,
    master_public: MasterPublicKey,
}

fn pipe_error(err: std::io::Error) -> SinkError {
    SinkError::new(format!("the worker stopped listening: {err}"))
}

impl OutputSink for PipeSink {
    fn content_key(&mut self, key: &ContentKey) -> Result<String, SinkError> {
        let key_id = key.id.to_string();
        let ctx = KeyContext {
            video_id: &self.video_id,
            key_id: &key_id,
        };
        let sealed =
            seal(&self.master_public, &ctx, &key.key).map_err(|e| SinkError::new(e.to_string()))?;
        protocol::send(&Frame::Key {
            key_id: key_id.clone(),
            sealed: sealed.to_base64(),
        })
        .map_err(pipe_error)?;
        Ok(key_placeholder(&key_id))
    }

    fn put(&mut self, path: &str, bytes: &[u8]) -> Result<(), SinkError> {
        protocol::send(&Frame::Put {
            path: path.to_string(),
            bytes: bytes.to_vec(),
        })
        .map_err(pipe_error)
    }

    /// The worker discards what it stored when the job fails.
    fn abort(&mut self) {}
}
