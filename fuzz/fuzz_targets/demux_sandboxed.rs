//! The upload probe exactly as the server runs it (`src/uploads/probe.rs`):
//! `probe_object` on a local store starts `<current exe> probe-upload FILE`
//! under its memory, CPU and time limits, and the child sandboxes itself
//! (Landlock, seccomp, rlimits) before FFmpeg reads a byte. Here the current
//! exe is this fuzzer, so its libFuzzer init hands a `probe-upload` command
//! line to the same `run_child` the `sealcast` binary calls, and exits.
//!
//! Asserts: the parent never panics or hangs and always gets a clean answer,
//! `Ok(duration)` or `NotVideo` (a child that crashes, is killed or times out
//! is `NotVideo`), never `Failed` (the probe could not run or answered
//! nonsense). At start, a real tiny MP4 must come back `Ok`, so the sandbox
//! is known to let a good file through.
#![no_main]

use clap::Parser;
use libfuzzer_sys::fuzz_target;
use sealcast::storage::{FsStore, ObjectKey, ObjectStore};
use sealcast::uploads::probe::{probe_object, run_child, ProbeError, ProbeUploadArgs};
use sealcast_fuzz::Scratch;
use std::process::ExitCode;
use std::sync::OnceLock;

const GOOD_MP4: &[u8] = include_bytes!("../seeds/demux/h264_aac.mp4");

/// `probe-upload` as the binary parses it.
#[derive(Parser)]
struct ProbeUpload {
    #[command(subcommand)]
    command: Child,
}

#[derive(clap::Subcommand)]
enum Child {
    ProbeUpload(ProbeUploadArgs),
}

/// In the child: run the probe and exit with its status.
fn child_main() {
    let mut args = std::env::args();
    if args.nth(1).as_deref() != Some("probe-upload") {
        return;
    }
    let Child::ProbeUpload(args) = ProbeUpload::parse().command;
    let code = run_child(args);
    let status = (0..=u8::MAX)
        .find(|c| ExitCode::from(*c) == code)
        .unwrap_or(1);
    std::process::exit(i32::from(status));
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    store: FsStore,
    key: ObjectKey,
    scratch: Scratch,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let scratch = Scratch::new();
        let store = runtime
            .block_on(FsStore::open(&scratch.path().join("store")))
            .unwrap();
        let fx = Fixture {
            runtime,
            store,
            key: ObjectKey::new("uploads/fuzz/input").unwrap(),
            scratch,
        };
        match probe(&fx, GOOD_MP4) {
            Ok(seconds) if seconds > 0.0 => {}
            other => panic!("the sandboxed probe refuses a good MP4: {other:?}"),
        }
        fx
    })
}

fn probe(fx: &Fixture, data: &[u8]) -> Result<f64, ProbeError> {
    let path = fx.store.local_path(&fx.key).unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, data).unwrap();
    let work = fx.scratch.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    fx.runtime
        .block_on(probe_object(&fx.store, &fx.key, data.len() as u64, &work))
}

fuzz_target!(
    init: {
        child_main();
        fixture();
    },
    |data: &[u8]| {
        match probe(fixture(), data) {
            Ok(seconds) => assert!(seconds.is_finite() && seconds >= 0.0, "{seconds}"),
            Err(ProbeError::NotVideo(reason)) => assert!(!reason.contains('\n'), "{reason}"),
            Err(other) => panic!("the probe did not give a clean answer: {other:?}"),
        }
    }
);
