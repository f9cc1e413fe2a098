//! `sealcast transcode INPUT OUTDIR`: transcode one file into an encrypted
//! HLS ladder on local disk, for operators and benchmarks.
//!
//! Output: `OUTDIR/master.m3u8`, one folder per rung (`720p/index.m3u8` and
//! encrypted `seg_NNNNN.ts`), `OUTDIR/poster.jpg`, and the content keys as
//! `OUTDIR/keys/<key-id>.key` (mode 0600) referenced by relative URIs, so
//! `ffmpeg -allowed_extensions ALL -i OUTDIR/master.m3u8` plays it directly.
//!
//! Exit codes: 0 success; 1 the input was rejected or transcoding failed
//! (exactly one `error: <reason>` line on stderr); 2 invalid arguments.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use sealcast_transcoder::{transcode, CopyTop, DirSink, Rung, TranscodeOptions, X264_PRESETS};

/// Arguments of `sealcast transcode`.
#[derive(clap::Args, Debug)]
pub struct TranscodeArgs {
    /// Input video file.
    pub input: PathBuf,
    /// Output directory (created if missing).
    pub outdir: PathBuf,
    /// Rung heights, e.g. `--rungs 1080,720,360`. Bitrates come from the
    /// default table (1080: 5M, 720: 2.8M, 480: 1.4M, 360: 0.8M, 240: 0.4M)
    /// or are scaled from it for other heights. Default: the full table.
    #[arg(long, value_delimiter = ',')]
    pub rungs: Option<Vec<u32>>,
    /// Target segment duration in seconds (1..=30).
    #[arg(long, default_value_t = 6.0)]
    pub segment_seconds: f64,
    /// Rotate the content key every N segments (>= 1).
    #[arg(long, default_value_t = 10)]
    pub rotate_every: u32,
    /// x264 preset (ultrafast ... placebo).
    #[arg(long, default_value = "veryfast")]
    pub preset: String,
    /// Re-mux the top rung from the source when it qualifies (H.264 8-bit
    /// 4:2:0 + AAC, no rotation, same height as the top rung).
    #[arg(long)]
    pub copy_top: bool,
}

fn validate(args: &TranscodeArgs) -> Result<TranscodeOptions, String> {
    if !(args.segment_seconds.is_finite() && (1.0..=30.0).contains(&args.segment_seconds)) {
        return Err(format!(
            "--segment-seconds must be between 1 and 30, got {}",
            args.segment_seconds
        ));
    }
    if args.rotate_every < 1 {
        return Err("--rotate-every must be at least 1".into());
    }
    if !X264_PRESETS.contains(&args.preset.as_str()) {
        return Err(format!(
            "--preset must be one of {}, got {:?}",
            X264_PRESETS.join(", "),
            args.preset
        ));
    }
    let mut opts = TranscodeOptions {
        segment_seconds: args.segment_seconds,
        rotate_every: args.rotate_every,
        preset: args.preset.clone(),
        copy_top: if args.copy_top {
            CopyTop::Always
        } else {
            CopyTop::Auto
        },
        ..TranscodeOptions::default()
    };
    if let Some(heights) = &args.rungs {
        if heights.is_empty() {
            return Err("--rungs needs at least one height".into());
        }
        if let Some(h) = heights.iter().find(|h| !(16..=8192).contains(*h)) {
            return Err(format!(
                "--rungs heights must be between 16 and 8192, got {h}"
            ));
        }
        opts.rungs = heights.iter().map(|&h| Rung::for_height(h)).collect();
    }
    opts.validate().map_err(|e| e.to_string())?;
    Ok(opts)
}

/// Run `sealcast transcode`.
pub fn run(args: TranscodeArgs) -> ExitCode {
    let opts = match validate(&args) {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("error: {msg}");
            return ExitCode::from(2);
        }
    };
    let mut sink = match DirSink::new(&args.outdir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot create {}: {e}", args.outdir.display());
            return ExitCode::from(1);
        }
    };

    // A bar on a terminal; plain lines every 10% otherwise (logs, CI).
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new(1000);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}% eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let mut next_pct = 10u32;
    let mut progress = |p: f32| match &bar {
        Some(b) => b.set_position((p * 1000.0) as u64),
        None => {
            while (p * 100.0).round() as u32 >= next_pct && next_pct <= 100 {
                eprintln!("progress: {next_pct}%");
                next_pct += 10;
            }
        }
    };

    let result = transcode(&args.input, &opts, &mut sink, &mut progress);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    match result {
        Ok(report) => {
            let rungs: Vec<String> = report
                .renditions
                .iter()
                .map(|r| {
                    format!(
                        "{} {}x{} {:.0} kb/s{}",
                        r.name,
                        r.width,
                        r.height,
                        r.average_bandwidth as f64 / 1000.0,
                        if r.copied { " (copied)" } else { "" }
                    )
                })
                .collect();
            eprintln!(
                "done: {:.1} s of video, {} segments per rung, {} keys: {} -> {}",
                report.duration_seconds,
                report.segment_count,
                report.key_count,
                rungs.join(", "),
                args.outdir.join("master.m3u8").display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            // Display is one line by construction; the sink already removed
            // partial output (DirSink::abort).
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
