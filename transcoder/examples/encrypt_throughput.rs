//! Throughput of the crate's segment encryption (AES-128-CBC + PKCS#7 over
//! whole 1 MB segments, as in production). Prints two lines, `<MB/s> MB/s
//! one` (one segment, one CBC chain: [`encrypt_segment`]) and `<MB/s> MB/s
//! rungs` (the `RUNGS` segments of one index, default 3, as the transcoder
//! seals them: [`encrypt_segments`]). MB = 10^6 bytes, like openssl speed.
//! Used by bench/transcode/crypto.sh.
use std::time::{Duration, Instant};

use sealcast_transcoder::{encrypt_segment, encrypt_segments, ContentKey, SegmentIv};

fn main() {
    let rungs: usize = std::env::var("RUNGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let key = ContentKey::generate();
    let seg: Vec<u8> = (0..1_000_000u32).map(|i| i as u8).collect();

    // The copy of the input is part of each timed call, as the segment
    // buffer is in production (encryption works in place on it).
    let (mut bytes, start) = (0u64, Instant::now());
    while start.elapsed() < Duration::from_secs(3) {
        let out = encrypt_segment(&key.key, &SegmentIv::generate().0, seg.clone());
        std::hint::black_box(&out);
        bytes += seg.len() as u64;
    }
    println!(
        "{:.1} MB/s one",
        bytes as f64 / start.elapsed().as_secs_f64() / 1e6
    );

    let (mut bytes, start) = (0u64, Instant::now());
    while start.elapsed() < Duration::from_secs(3) {
        let batch = (0..rungs)
            .map(|_| (SegmentIv::generate().0, seg.clone()))
            .collect();
        let out = encrypt_segments(&key.key, batch);
        std::hint::black_box(&out);
        bytes += (rungs * seg.len()) as u64;
    }
    println!(
        "{:.1} MB/s rungs",
        bytes as f64 / start.elapsed().as_secs_f64() / 1e6
    );
}
