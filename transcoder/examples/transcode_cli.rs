//! Minimal stand-in for `sealcast transcode` (same arguments), used by the
//! benchmarks in `bench/transcode/` when the full server binary is not built:
//!
//! `transcode_cli [transcode] INPUT OUTDIR [--rungs 1080,720] [--segment-seconds 6]
//!  [--rotate-every 10] [--preset veryfast] [--copy-top]`
use std::path::PathBuf;
use std::process::ExitCode;

use sealcast_transcoder::{transcode, CopyTop, DirSink, Rung, TranscodeOptions};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut pos = Vec::new();
    let mut opts = TranscodeOptions::default();
    while let Some(a) = args.next() {
        let mut val = || args.next().expect("missing value");
        match a.as_str() {
            "--rungs" => {
                opts.rungs = val()
                    .split(',')
                    .map(|h| Rung::for_height(h.parse().expect("height")))
                    .collect()
            }
            "--segment-seconds" => opts.segment_seconds = val().parse().expect("number"),
            "--rotate-every" => opts.rotate_every = val().parse().expect("number"),
            "--preset" => opts.preset = val(),
            "--copy-top" => opts.copy_top = CopyTop::Always,
            // Accept `transcode_cli transcode IN OUT` like `sealcast transcode`.
            "transcode" if pos.is_empty() => {}
            _ => pos.push(PathBuf::from(a)),
        }
    }
    let [input, outdir] = &pos[..] else {
        eprintln!("usage: transcode_cli INPUT OUTDIR [options]");
        return ExitCode::from(2);
    };
    let mut sink = match DirSink::new(outdir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let start = std::time::Instant::now();
    match transcode(input, &opts, &mut sink, &mut |_| {}) {
        Ok(r) => {
            eprintln!(
                "done in {:.2}s: {:.2}s of video, {} segments, {} keys, {:?}",
                start.elapsed().as_secs_f64(),
                r.duration_seconds,
                r.segment_count,
                r.key_count,
                r.renditions
                    .iter()
                    .map(|v| format!(
                        "{} {}x{} {}b/s {} copied={}",
                        v.name, v.width, v.height, v.bandwidth, v.codecs, v.copied
                    ))
                    .collect::<Vec<_>>()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
