//! `sealcast transcode-job`: one job, in its own process.
//!
//! The parent (a worker) passes non-secret settings as flags and storage and
//! database locations through `SEALCAST_*` variables; the process never sees
//! the custody private key, the URL-signing secret or the token keys. It talks
//! back on stdout, one line per message:
//! `progress 0.42` · `done {json}` · `error {json}`.
//! It exits when its parent goes away (stdin closes), so a killed server
//! leaves no orphan encoding for nobody.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use base64::Engine;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use crate::videos::Rendition;
use sealcast_transcoder::OutputSink;

use super::sink::StorageSink;
use super::transcode_options;
use crate::config::{Config, ServeArgs};
use crate::db::Db;
use crate::storage::{self, ObjectKey, ObjectStore};

#[derive(clap::Args, Debug)]
pub struct TranscodeJobArgs {
    /// The video to transcode.
    pub video_id: String,
    /// Object key of the uploaded source.
    #[arg(long)]
    pub source_key: String,
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
    /// Address-space limit for this process, in bytes.
    #[arg(long)]
    pub memory_limit: u64,
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Exit codes the worker interprets.
pub const EXIT_BAD_MEDIA: u8 = 10;
pub const EXIT_RETRYABLE: u8 = 11;
pub const EXIT_OTHER: u8 = 12;
pub const EXIT_ORPHANED: u8 = 70;

/// The `done` message.
#[derive(Debug, Serialize, Deserialize)]
pub struct JobDone {
    pub duration_seconds: f64,
    pub renditions: Vec<Rendition>,
}

/// The `error` message.
#[derive(Debug, Serialize, Deserialize)]
pub struct JobFailed {
    pub kind: String,
    pub message: String,
    pub bad_media: bool,
    pub retryable: bool,
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn fail(kind: &str, message: String, bad_media: bool, retryable: bool) -> ExitCode {
    let msg = JobFailed {
        kind: kind.into(),
        message,
        bad_media,
        retryable,
    };
    say(&format!(
        "error {}",
        serde_json::to_string(&msg).unwrap_or_default()
    ));
    ExitCode::from(if bad_media {
        EXIT_BAD_MEDIA
    } else if retryable {
        EXIT_RETRYABLE
    } else {
        EXIT_OTHER
    })
}

pub fn run(args: TranscodeJobArgs) -> ExitCode {
    if let Err(err) = rlimit::setrlimit(rlimit::Resource::AS, args.memory_limit, args.memory_limit)
    {
        return fail(
            "limits",
            format!("cannot set the memory limit: {err}"),
            false,
            false,
        );
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
    let config = match Config::load(&args.serve) {
        Ok(config) => config,
        Err(err) => return fail("config", err.to_string(), false, false),
    };
    crate::telemetry::init(config.log_format);
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
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => return fail("runtime", err.to_string(), false, true),
    };
    let handle = runtime.handle().clone();
    runtime.block_on(async move {
        let db = match Db::connect(&config.database_url).await {
            Ok(db) => db,
            Err(err) => return fail("database", err.to_string(), false, true),
        };
        let store = match storage::open(&config.storage).await {
            Ok(store) => store,
            Err(err) => return fail("storage", err.to_string(), false, true),
        };
        let work_dir =
            config
                .data_dir
                .join("work")
                .join(format!("{}-{}", args.video_id, std::process::id()));
        let result = transcode_in(&args, &work_dir, handle, store, db, master_public).await;
        let _ = tokio::fs::remove_dir_all(&work_dir).await;
        result
    })
}

async fn transcode_in(
    args: &TranscodeJobArgs,
    work_dir: &Path,
    rt: tokio::runtime::Handle,
    store: Arc<dyn ObjectStore>,
    db: Db,
    master_public: sealcast_keyserver::MasterPublicKey,
) -> ExitCode {
    let source = match download(store.as_ref(), &args.source_key, work_dir).await {
        Ok(path) => path,
        Err((err, retryable)) => {
            return fail(
                "storage",
                format!("cannot read the upload: {err}"),
                false,
                retryable,
            )
        }
    };
    let options = transcode_options(
        &args.job_rungs,
        args.job_segment_seconds,
        args.job_rotate_every,
        &args.job_preset,
    );
    let video_id = args.video_id.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let mut sink = StorageSink::new(rt, store, db, video_id, master_public);
        let mut last = -1i32;
        let mut progress = |p: f32| {
            let percent = (p.clamp(0.0, 1.0) * 100.0) as i32;
            if percent != last {
                last = percent;
                say(&format!("progress {:.2}", p.clamp(0.0, 1.0)));
            }
        };
        let report = sealcast_transcoder::transcode(&source, &options, &mut sink, &mut progress);
        match report {
            Ok(report) => match sink.finish() {
                Ok(()) => Ok(report),
                Err(err) => {
                    sink.abort();
                    Err(sealcast_transcoder::TranscodeError::from(err))
                }
            },
            Err(err) => Err(err),
        }
    })
    .await;
    match outcome {
        Ok(Ok(report)) => {
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
            say(&format!(
                "done {}",
                serde_json::to_string(&done).unwrap_or_default()
            ));
            ExitCode::SUCCESS
        }
        Ok(Err(err)) => fail(
            err.kind().as_str(),
            err.to_string(),
            err.is_bad_media(),
            err.is_retryable(),
        ),
        Err(join) => fail("panic", format!("transcoder panicked: {join}"), false, true),
    }
}

/// Streams the upload to a local file (the transcoder needs random access).
async fn download(
    store: &dyn ObjectStore,
    key: &str,
    dir: &Path,
) -> Result<PathBuf, (String, bool)> {
    let key = ObjectKey::new(key).map_err(|e| (e.to_string(), false))?;
    crate::storage::private_dir(dir)
        .await
        .map_err(|e| (e.to_string(), true))?;
    let path = dir.join("source");
    let body = store.get(&key, None).await.map_err(|e| {
        let transient = e.is_transient();
        (e.to_string(), transient)
    })?;
    let mut file = tokio::fs::File::create(&path)
        .await
        .map_err(|e| (e.to_string(), true))?;
    let mut stream = body.stream;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| (e.to_string(), true))?;
        file.write_all(&chunk)
            .await
            .map_err(|e| (e.to_string(), true))?;
    }
    file.flush().await.map_err(|e| (e.to_string(), true))?;
    Ok(path)
}
