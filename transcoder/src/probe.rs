//! Opening and validating the input (before anything big is allocated).

use std::path::Path;

use ff::codec::packet::side_data::Type as SideDataType;
use ff::format::stream::Disposition;
use ff::media::Type as MediaType;
use ffmpeg_next as ff;

use crate::error::{ff_msg, TranscodeError};
use crate::ladder::display_size;
use crate::rawpar;

/// Size limits, checked against the container/codec header **before** any
/// decoder is opened or frame allocated (a 16384x16384 header must not make
/// us allocate 400 MB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Minimum coded width and height (default 16).
    pub min_side: u32,
    /// Maximum coded width or height (default 8192).
    pub max_side: u32,
    /// Maximum coded width x height (default 36 Mpixel).
    pub max_pixels: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            min_side: 16,
            max_side: 8192,
            max_pixels: 36_000_000,
        }
    }
}

impl Limits {
    pub(crate) fn check(&self, width: u32, height: u32) -> Result<(), TranscodeError> {
        self.check_max(width, height)?;
        if width < self.min_side || height < self.min_side {
            return Err(TranscodeError::TooSmall {
                width,
                height,
                min: self.min_side,
            });
        }
        Ok(())
    }

    /// The upper limits alone: a raw container header may leave a size
    /// unset or tiny until the decoder fills it in, so only "too large" is
    /// decided there.
    fn check_max(&self, width: u32, height: u32) -> Result<(), TranscodeError> {
        if width > self.max_side
            || height > self.max_side
            || u64::from(width) * u64::from(height) > self.max_pixels
        {
            return Err(TranscodeError::TooLarge {
                width,
                height,
                max_side: self.max_side,
                max_pixels: self.max_pixels,
            });
        }
        Ok(())
    }
}

/// What [`probe`] found out about an input.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaInfo {
    /// Container name as FFmpeg reports it, e.g. "mov,mp4,m4a,3gp,3g2,mj2".
    pub container: String,
    /// Duration in seconds (container or stream header; 0 if unknown).
    pub duration_seconds: f64,
    /// Display width: sample aspect ratio and rotation applied.
    pub width: u32,
    /// Display height: sample aspect ratio and rotation applied.
    pub height: u32,
    /// Coded (stored) width.
    pub coded_width: u32,
    /// Coded (stored) height.
    pub coded_height: u32,
    /// Sample aspect ratio (num, den); (0, 1) or (1, 1) means square pixels.
    pub sample_aspect_ratio: (u32, u32),
    /// Clockwise rotation needed to display the picture upright: 0, 90, 180 or 270.
    pub rotation: u32,
    /// Video codec short name, e.g. "h264", "hevc", "vp9".
    pub video_codec: String,
    /// Decoded pixel format name, e.g. "yuv420p", "yuv420p10le".
    pub pixel_format: String,
    /// Average frame rate, if the container knows it.
    pub frame_rate: Option<f64>,
    /// Whether there is an audio stream we will transcode.
    pub has_audio: bool,
    /// Audio codec short name.
    pub audio_codec: Option<String>,
    /// Number of audio channels.
    pub audio_channels: Option<u16>,
}

/// An opened, validated input.
pub(crate) struct Source {
    pub ictx: ff::format::context::Input,
    pub info: MediaInfo,
    pub video_index: usize,
    pub audio_index: Option<usize>,
}

/// One-time FFmpeg setup. FFmpeg's own log output is silenced (it would
/// scribble multi-line noise on the server's / CLI's stderr); every failure
/// is reported through [`TranscodeError`] instead.
pub(crate) fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = ff::init();
        ff::util::log::set_level(ff::util::log::Level::Quiet);
    });
}

/// Rotation (clockwise degrees, one of 0/90/180/270) needed to show the
/// picture upright, from a 3x3 display matrix (as `av_display_rotation_get`
/// plus the CLI's autorotate rounding).
pub(crate) fn rotation_from_display_matrix(data: &[u8]) -> Option<u32> {
    if data.len() < 36 {
        return None;
    }
    let m: Vec<f64> = data[..36]
        .chunks_exact(4)
        .map(|c| f64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])) / 65536.0)
        .collect();
    let s0 = m[0].hypot(m[3]);
    let s1 = m[1].hypot(m[4]);
    if s0 == 0.0 || s1 == 0.0 {
        return None;
    }
    // av_display_rotation_get(): the counter-clockwise angle of the matrix
    // (ffprobe's "rotation=-90" for a portrait phone video) ...
    let ccw = -(m[1] / s1).atan2(m[0] / s0).to_degrees();
    // ... negated, as the ffmpeg CLI's autorotate does, gives the clockwise
    // rotation that shows the picture upright.
    let mut theta = -ccw.round();
    theta -= 360.0 * (theta / 360.0 + 0.9 / 360.0).floor();
    Some(match theta.round() as i64 {
        t if (t - 90).abs() < 2 => 90,
        t if (t - 180).abs() < 2 => 180,
        t if (t - 270).abs() < 2 => 270,
        _ => 0,
    })
}

fn stream_rotation(stream: &ff::format::stream::Stream) -> u32 {
    for sd in stream.side_data() {
        if sd.kind() == SideDataType::DisplayMatrix {
            if let Some(r) = rotation_from_display_matrix(sd.data()) {
                return r;
            }
        }
    }
    // Older muxers/demuxers expose a "rotate" tag instead.
    if let Some(r) = stream.metadata().get("rotate") {
        if let Ok(v) = r.trim().parse::<i64>() {
            return match v.rem_euclid(360) {
                90 => 90,
                180 => 180,
                270 => 270,
                _ => 0,
            };
        }
    }
    0
}

fn rational_f64(r: ff::Rational) -> Option<f64> {
    (r.numerator() > 0 && r.denominator() > 0)
        .then(|| f64::from(r.numerator()) / f64::from(r.denominator()))
}

/// Open and validate `input`. Everything here reads headers only: no decoder
/// is opened, so limits are enforced before any frame buffer exists.
pub(crate) fn open(input: &Path, limits: &Limits) -> Result<Source, TranscodeError> {
    init();
    check_file(input)?;
    // Size limits against the raw container header first (see rawpar).
    for (w, h) in rawpar::header_video_sizes(input).unwrap_or_default() {
        if w > 0 && h > 0 {
            limits.check_max(w as u32, h as u32)?;
        }
    }
    let ictx = ff::format::input(&input).map_err(|e| {
        TranscodeError::Unreadable(format!(
            "not a recognisable audio/video file ({})",
            ff_msg(e)
        ))
    })?;
    let (video_index, audio_index) = pick_streams(&ictx)?;
    let mut info = video_info(&ictx, video_index, limits)?;
    let audio_index = audio_index
        .filter(|&ai| add_audio(&mut info, &ictx.stream(ai).expect("index from iteration")));
    Ok(Source {
        ictx,
        info,
        video_index,
        audio_index,
    })
}

/// A non-empty regular file, before FFmpeg is asked to make sense of it.
fn check_file(input: &Path) -> Result<(), TranscodeError> {
    let meta = std::fs::metadata(input)?;
    if !meta.is_file() {
        return Err(TranscodeError::Unreadable(format!(
            "{} is not a regular file",
            input.display()
        )));
    }
    if meta.len() == 0 {
        return Err(TranscodeError::Unreadable(
            "the file is empty (0 bytes)".into(),
        ));
    }
    Ok(())
}

/// The largest real video stream (cover art is a "video" stream too) and
/// the first audio stream.
fn pick_streams(
    ictx: &ff::format::context::Input,
) -> Result<(usize, Option<usize>), TranscodeError> {
    let mut best: Option<(usize, u64)> = None;
    let mut audio_index = None;
    for st in ictx.streams() {
        let par = st.parameters();
        match par.medium() {
            MediaType::Video if !st.disposition().contains(Disposition::ATTACHED_PIC) => {
                let raw = rawpar::read(&par);
                let area = u64::from(raw.width.max(0) as u32) * u64::from(raw.height.max(0) as u32);
                if best.is_none_or(|(_, a)| area > a) {
                    best = Some((st.index(), area));
                }
            }
            MediaType::Audio if audio_index.is_none() => audio_index = Some(st.index()),
            _ => {}
        }
    }
    let Some((video_index, _)) = best else {
        let what = if audio_index.is_some() {
            "the file contains audio but no video stream"
        } else {
            "the file contains no video stream"
        };
        return Err(TranscodeError::NotAVideo(what.into()));
    };
    Ok((video_index, audio_index))
}

/// Everything but the audio, with the video stream checked: a picture
/// size within `limits` and a decoder for its codec.
fn video_info(
    ictx: &ff::format::context::Input,
    video_index: usize,
    limits: &Limits,
) -> Result<MediaInfo, TranscodeError> {
    let vst = ictx.stream(video_index).expect("index from iteration");
    let vpar = vst.parameters();
    let vcodec_id = vpar.id();
    let raw = rawpar::read(&vpar);
    let (cw, ch) = (raw.width.max(0) as u32, raw.height.max(0) as u32);
    if cw == 0 || ch == 0 {
        return Err(TranscodeError::Corrupt(
            "the video stream has no picture size (no decodable frame header)".into(),
        ));
    }
    // Limits first: nothing below this line may allocate picture buffers.
    limits.check(cw, ch)?;
    if ff::codec::decoder::find(vcodec_id).is_none() {
        return Err(TranscodeError::Unsupported(format!(
            "no decoder for video codec {}",
            vcodec_id.name()
        )));
    }
    // Opening (not using) the decoder is safe now and names the pixel format.
    let pixel_format = ff::codec::context::Context::from_parameters(vpar)
        .and_then(|c| c.decoder().video())
        .map(|v| format!("{:?}", v.format()).to_lowercase())
        .map_err(|e| {
            TranscodeError::Unreadable(format!("cannot open the video decoder ({})", ff_msg(e)))
        })?;
    let sar = if raw.sar.0 > 0 && raw.sar.1 > 0 {
        (raw.sar.0 as u32, raw.sar.1 as u32)
    } else {
        (1, 1)
    };
    let rotation = stream_rotation(&vst);
    let (width, height) = display_size(cw, ch, sar, rotation);
    Ok(MediaInfo {
        container: ictx.format().name().to_string(),
        duration_seconds: duration_seconds(ictx, &vst),
        width,
        height,
        coded_width: cw,
        coded_height: ch,
        sample_aspect_ratio: sar,
        rotation,
        video_codec: vcodec_id.name().to_string(),
        pixel_format,
        frame_rate: rational_f64(vst.avg_frame_rate()).or_else(|| rational_f64(vst.rate())),
        has_audio: false,
        audio_codec: None,
        audio_channels: None,
    })
}

/// The container's duration, else the video stream's; 0 if neither knows.
fn duration_seconds(ictx: &ff::format::context::Input, vst: &ff::format::stream::Stream) -> f64 {
    if ictx.duration() > 0 {
        ictx.duration() as f64 / f64::from(ff::ffi::AV_TIME_BASE)
    } else if vst.duration() > 0 {
        vst.duration() as f64 * f64::from(vst.time_base())
    } else {
        0.0
    }
}

/// Record the audio stream in `info` if we can decode it (a known codec
/// with channels and a sample rate); a stream we cannot is ignored, and
/// the video is transcoded silent.
fn add_audio(info: &mut MediaInfo, ast: &ff::format::stream::Stream) -> bool {
    let apar = ast.parameters();
    let id = apar.id();
    let raw = rawpar::read(&apar);
    if ff::codec::decoder::find(id).is_none() || raw.channels <= 0 || raw.sample_rate <= 0 {
        return false;
    }
    info.has_audio = true;
    info.audio_codec = Some(id.name().to_string());
    info.audio_channels = Some(raw.channels as u16);
    true
}

/// Probe `input`: container, duration, display size, rotation, codecs, audio.
///
/// Applies the default [`Limits`] and the same "is this a video" checks as
/// [`transcode`](crate::transcode), so a server can reject an upload early.
pub fn probe(input: &Path) -> Result<MediaInfo, TranscodeError> {
    let src = open(input, &Limits::default())?;
    if src.info.duration_seconds <= 0.0 && src.ictx.duration() != ff::ffi::AV_NOPTS_VALUE {
        return Err(TranscodeError::ZeroDuration(
            "the container reports a duration of 0".into(),
        ));
    }
    Ok(src.info)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(a: i32, b: i32, c: i32, d: i32) -> Vec<u8> {
        let m = [a, b, 0, c, d, 0, 0, 0, 1 << 30];
        m.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    #[test]
    fn display_matrix_rotation() {
        let one = 1 << 16;
        assert_eq!(
            rotation_from_display_matrix(&matrix(one, 0, 0, one)),
            Some(0)
        );
        // Same convention as the ffmpeg CLI's autorotate (get_rotation()).
        assert_eq!(
            rotation_from_display_matrix(&matrix(0, one, -one, 0)),
            Some(90)
        );
        assert_eq!(
            rotation_from_display_matrix(&matrix(0, -one, one, 0)),
            Some(270)
        );
        assert_eq!(
            rotation_from_display_matrix(&matrix(-one, 0, 0, -one)),
            Some(180)
        );
        assert_eq!(rotation_from_display_matrix(&[0u8; 8]), None);
    }

    #[test]
    fn limits() {
        let l = Limits::default();
        assert!(l.check(1920, 1080).is_ok());
        assert!(matches!(
            l.check(1, 1),
            Err(TranscodeError::TooSmall { .. })
        ));
        assert!(matches!(
            l.check(16384, 16384),
            Err(TranscodeError::TooLarge { .. })
        ));
        assert!(matches!(
            l.check(8000, 8000),
            Err(TranscodeError::TooLarge { .. })
        ));
    }
}
