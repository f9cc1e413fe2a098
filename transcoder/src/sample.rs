//! A generated sample video (`testsrc2` pictures and a beeping tone, H.264 +
//! AAC in MP4), made in process with libavfilter and libx264.
//!
//! Why it exists: `sealcast serve --demo` must show a newcomer an encrypted
//! video within minutes without shipping media in the repository or
//! downloading any. The file goes through the same upload → transcode path as
//! a creator's upload, so the demo exercises the real pipeline.

use std::path::Path;

use ff::{codec, filter, frame, Packet, Rational};
use ffmpeg_next as ff;

use crate::encoders;
use crate::error::{ff_msg, TranscodeError};

/// Size and length of a generated sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleSpec {
    /// Width in pixels (even).
    pub width: u32,
    /// Height in pixels (even).
    pub height: u32,
    /// Length in whole seconds.
    pub seconds: u32,
    /// Frames per second.
    pub fps: u32,
}

impl Default for SampleSpec {
    /// 20 s of 720p at 25 fps: long enough to show key rotation and a
    /// quality ladder, short enough to transcode in well under a minute.
    fn default() -> Self {
        SampleSpec {
            width: 1280,
            height: 720,
            seconds: 20,
            fps: 25,
        }
    }
}

fn ferr(what: &'static str) -> impl Fn(ff::Error) -> TranscodeError {
    move |e| TranscodeError::Encoder(format!("sample {what}: {}", ff_msg(e)))
}

/// A source-only filter graph ending in a sink named `out`.
fn source_graph(
    sink: &str,
    chain: &str,
    configure: impl FnOnce(&mut filter::Context),
) -> Result<filter::Graph, TranscodeError> {
    let mut graph = filter::Graph::new();
    let sink_filter = filter::find(sink)
        .ok_or_else(|| TranscodeError::Encoder(format!("this FFmpeg has no {sink}")))?;
    graph.add(&sink_filter, "out", "").map_err(ferr("graph"))?;
    configure(&mut graph.get("out").expect("just added"));
    graph
        .input("out", 0)
        .and_then(|p| p.parse(chain))
        .map_err(ferr("graph"))?;
    graph.validate().map_err(ferr("graph"))?;
    Ok(graph)
}

/// Writes a sample MP4 to `path` (replacing it).
pub fn generate_sample(path: &Path, spec: &SampleSpec) -> Result<(), TranscodeError> {
    ff::init().map_err(ferr("init"))?;
    // libx264's banner and statistics are noise in a server's terminal.
    ff::util::log::set_level(ff::util::log::Level::Error);
    if spec.width < 16 || spec.height < 16 || spec.width % 2 == 1 || spec.height % 2 == 1 {
        return Err(TranscodeError::Encoder(
            "sample size must be even and at least 16x16".into(),
        ));
    }
    let fps = spec.fps.clamp(1, 60) as i32;
    let mut octx = ff::format::output_as(path, "mp4").map_err(ferr("output"))?;
    let global_header = octx
        .format()
        .flags()
        .contains(ff::format::Flags::GLOBAL_HEADER);
    let video_tb = Rational::new(1, fps);
    let mut venc = video_encoder(spec, fps, global_header)?;
    // Audio: AAC stereo 48 kHz from a sine tone that beeps every second.
    let audio_tb = Rational::new(1, 48_000);
    let mut aenc = encoders::aac_stereo(128_000, global_header)?;
    let mut graphs = source_graphs(spec, fps, aenc.frame_size())?;

    {
        let mut vs = octx.add_stream(venc.codec()).map_err(ferr("stream"))?;
        vs.set_parameters(&venc);
        vs.set_time_base(video_tb);
    }
    {
        let mut st = octx.add_stream(aenc.codec()).map_err(ferr("stream"))?;
        st.set_parameters(&aenc);
        st.set_time_base(audio_tb);
    }
    octx.write_header().map_err(ferr("header"))?;
    let streams = [
        OutStream {
            index: 0,
            from: video_tb,
            to: octx.stream(0).expect("added").time_base(),
        },
        OutStream {
            index: 1,
            from: audio_tb,
            to: octx.stream(1).expect("added").time_base(),
        },
    ];
    encode_interleaved(&mut octx, &mut venc, &mut aenc, &mut graphs, fps, &streams)?;
    octx.write_trailer().map_err(ferr("trailer"))?;
    Ok(())
}

/// libx264 at a constant quality, keyframes every 2 s.
fn video_encoder(
    spec: &SampleSpec,
    fps: i32,
    global_header: bool,
) -> Result<ff::encoder::Video, TranscodeError> {
    let x264 = encoders::libx264()?;
    let mut venc = codec::context::Context::new_with_codec(x264)
        .encoder()
        .video()
        .map_err(ferr("x264"))?;
    venc.set_width(spec.width);
    venc.set_height(spec.height);
    venc.set_format(ff::format::Pixel::YUV420P);
    venc.set_time_base(Rational::new(1, fps));
    venc.set_frame_rate(Some(Rational::new(fps, 1)));
    venc.set_gop((fps * 2) as u32);
    if global_header {
        venc.set_flags(codec::Flags::GLOBAL_HEADER);
    }
    let mut opts = ff::Dictionary::new();
    opts.set("preset", "veryfast");
    opts.set("crf", "23");
    venc.open_as_with(x264, opts).map_err(ferr("x264 open"))
}

/// The testsrc2 picture graph and the beeping tone graph, the latter cut
/// into frames of `audio_frame_size` samples for the AAC encoder.
fn source_graphs(
    spec: &SampleSpec,
    fps: i32,
    audio_frame_size: u32,
) -> Result<[filter::Graph; 2], TranscodeError> {
    let video = source_graph(
        "buffersink",
        &format!(
            "testsrc2=size={}x{}:rate={fps}:duration={},format=yuv420p",
            spec.width, spec.height, spec.seconds
        ),
        |_| {},
    )?;
    let mut audio = source_graph(
        "abuffersink",
        &format!(
            "sine=frequency=660:beep_factor=2:sample_rate=48000:duration={},\
             aformat=sample_fmts=fltp:channel_layouts=stereo,volume=0.3",
            spec.seconds
        ),
        |_| {},
    )?;
    audio
        .get("out")
        .expect("added")
        .sink()
        .set_frame_size(audio_frame_size);
    Ok([video, audio])
}

/// Where one encoder's packets go in the MP4.
struct OutStream {
    index: usize,
    /// The encoder's time base.
    from: Rational,
    /// The muxer's, once the header is written.
    to: Rational,
}

fn write_packets(
    octx: &mut ff::format::context::Output,
    enc: &mut ff::encoder::Encoder,
    stream: &OutStream,
) -> Result<(), TranscodeError> {
    let mut pkt = Packet::empty();
    while enc.receive_packet(&mut pkt).is_ok() {
        pkt.set_stream(stream.index);
        pkt.rescale_ts(stream.from, stream.to);
        pkt.write_interleaved(octx).map_err(ferr("write"))?;
    }
    Ok(())
}

/// Pull frames from both graphs until both end, keeping the two streams
/// within a frame of each other so the muxer interleaves without buffering.
fn encode_interleaved(
    octx: &mut ff::format::context::Output,
    venc: &mut ff::encoder::Video,
    aenc: &mut ff::encoder::Audio,
    [vgraph, agraph]: &mut [filter::Graph; 2],
    fps: i32,
    [vout, aout]: &[OutStream; 2],
) -> Result<(), TranscodeError> {
    let mut vframe = frame::Video::empty();
    let mut aframe = frame::Audio::empty();
    let (mut video_done, mut audio_done) = (false, false);
    let (mut video_secs, mut audio_secs) = (0.0f64, 0.0f64);
    while !(video_done && audio_done) {
        if !video_done && (audio_done || video_secs <= audio_secs) {
            match vgraph.get("out").expect("added").sink().frame(&mut vframe) {
                Ok(()) => {
                    let pts = vframe.pts().unwrap_or(0);
                    video_secs = pts as f64 / f64::from(fps);
                    // testsrc2 marks every picture as an I-frame, which
                    // libx264 would honour; let the encoder choose.
                    vframe.set_kind(ff::picture::Type::None);
                    venc.send_frame(&vframe).map_err(ferr("x264 encode"))?;
                }
                Err(_) => {
                    venc.send_eof().map_err(ferr("x264 flush"))?;
                    video_done = true;
                }
            }
            write_packets(octx, venc, vout)?;
        } else {
            match agraph.get("out").expect("added").sink().frame(&mut aframe) {
                Ok(()) => {
                    let pts = aframe.pts().unwrap_or(0);
                    audio_secs = pts as f64 / 48_000.0;
                    aenc.send_frame(&aframe).map_err(ferr("aac encode"))?;
                }
                Err(_) => {
                    aenc.send_eof().map_err(ferr("aac flush"))?;
                    audio_done = true;
                }
            }
            write_packets(octx, aenc, aout)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_probes_as_the_requested_video() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sample.mp4");
        let spec = SampleSpec {
            width: 320,
            height: 180,
            seconds: 2,
            fps: 25,
        };
        generate_sample(&path, &spec).unwrap();
        let info = crate::probe(&path).unwrap();
        assert_eq!((info.width, info.height), (320, 180));
        assert!(info.has_audio, "sample has an audio track");
        assert!(
            (info.duration_seconds - 2.0).abs() < 0.2,
            "duration {}",
            info.duration_seconds
        );
    }

    #[test]
    fn odd_sizes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let spec = SampleSpec {
            width: 321,
            ..SampleSpec::default()
        };
        assert!(generate_sample(&dir.path().join("x.mp4"), &spec).is_err());
    }
}
