//! Throughput of the crate's segment encryption (AES-128-CBC + PKCS#7 over a
//! whole 1 MB segment, as in production). Prints `<MB/s> MB/s` (MB = 10^6
//! bytes, like openssl speed). Used by bench/transcode/crypto.sh.
use std::time::{Duration, Instant};

use sealcast_transcoder::{encrypt_segment, ContentKey, SegmentIv};

fn main() {
    let key = ContentKey::generate();
    let seg: Vec<u8> = (0..1_000_000u32).map(|i| i as u8).collect();
    let mut bytes = 0u64;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        // Clone outside the timed region would be fairer, but a memcpy of
        // 1 MB is ~1% of the encryption cost; keep it simple and honest.
        let out = encrypt_segment(&key.key, &SegmentIv::generate().0, seg.clone());
        std::hint::black_box(&out);
        bytes += seg.len() as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    println!("{:.1} MB/s", bytes as f64 / secs / 1e6);
}
