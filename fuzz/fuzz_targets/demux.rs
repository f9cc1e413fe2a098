//! The transcoder's probe (`transcoder/src/probe.rs`: raw container header
//! parsing, FFmpeg's demuxers, the limits) on arbitrary bytes, in process so
//! libFuzzer sees its coverage. The server runs the same code in a sandboxed
//! child (target `demux_sandboxed`).
//!
//! Asserts: no panic, no crash; an accepted input's coded size is within the
//! limits (16..=8192 per side, at most 36 Mpixel), its display size is not
//! empty and its duration is a finite number.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealcast_fuzz::{without_network, Scratch};
use std::sync::OnceLock;

fn scratch() -> &'static Scratch {
    static S: OnceLock<Scratch> = OnceLock::new();
    S.get_or_init(|| {
        without_network();
        Scratch::new()
    })
}

fuzz_target!(|data: &[u8]| {
    let path = scratch().write("input", data);
    if let Ok(info) = sealcast_transcoder::probe(&path) {
        for side in [info.coded_width, info.coded_height] {
            assert!((16..=8192).contains(&side), "{info:?}");
        }
        assert!(info.width >= 1 && info.height >= 1, "{info:?}");
        assert!(u64::from(info.coded_width) * u64::from(info.coded_height) <= 36_000_000);
        assert!(
            info.duration_seconds.is_finite() && info.duration_seconds >= 0.0,
            "{info:?}"
        );
    }
});
