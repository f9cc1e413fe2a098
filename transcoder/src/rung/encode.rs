//! The encoded rungs: scale each decoded picture to the rung's size (from
//! the source, or from the next larger rung's already smaller picture),
//! turn it upright, and encode it with libx264, keyframes exactly where the
//! driver forces them.

use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;

use ff::format::Pixel;
use ff::software::scaling;
use ff::{frame, Packet};
use ffmpeg_next as ff;

use super::segmenter::Segmenter;
use super::{Event, Job, RungSpec};
use crate::encoders;
use crate::error::{encoder_error, TranscodeError};
use crate::frames::rotate;
use crate::ladder::rotated_size;

/// Returns the codec string and the number of segments cut.
pub(super) fn run(
    spec: RungSpec,
    rx: Receiver<Job>,
    tx: &Sender<Event>,
) -> Result<(String, usize), TranscodeError> {
    let mut enc = open_x264(&spec)?;
    let mut seg = Segmenter::new(&spec, ff::codec::Parameters::from(&enc), None, tx);
    // Rotation happens after scaling, so scale to the pre-rotation size.
    let r = &spec.rendition;
    let mut scaler = Scaler::new(rotated_size(r.width, r.height, spec.rotation));

    for job in rx {
        match job {
            Job::Audio(p) => seg.audio_packet(&p),
            Job::Copy { .. } => {}
            Job::Video {
                frame,
                pts,
                force_key,
            } => {
                let scaled = scaler.scale(&frame)?;
                drop(frame);
                let scaled = Arc::new(if spec.rotation == 0 {
                    stamp(scaled, pts, force_key)
                } else {
                    scaled
                });
                // Cascade: the next smaller rung scales from our (already
                // smaller) picture instead of the full-size source frame.
                if let Some(child) = &spec.child {
                    child
                        .send(Job::Video {
                            frame: scaled.clone(),
                            pts,
                            force_key,
                        })
                        .map_err(|_| TranscodeError::Encoder("a smaller rung stopped".into()))?;
                }
                let picture = if spec.rotation == 0 {
                    scaled
                } else {
                    Arc::new(stamp(rotate(&scaled, spec.rotation), pts, force_key))
                };
                if force_key {
                    seg.cut_at(pts);
                }
                enc.send_frame(&picture)
                    .map_err(encoder_error("x264 encode"))?;
                write_packets(&mut enc, &mut seg)?;
            }
        }
    }
    // Channel closed: end of input.
    enc.send_eof().map_err(encoder_error("x264 flush"))?;
    write_packets(&mut enc, &mut seg)?;
    seg.finish()
}

fn open_x264(spec: &RungSpec) -> Result<ff::encoder::Video, TranscodeError> {
    let r = &spec.rendition;
    let codec = encoders::libx264()?;
    let mut enc = ff::codec::context::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(encoder_error("x264 setup"))?;
    enc.set_width(r.width);
    enc.set_height(r.height);
    enc.set_format(Pixel::YUV420P);
    enc.set_time_base(spec.time_base);
    enc.set_frame_rate(Some(spec.frame_rate));
    enc.set_aspect_ratio((1, 1));
    enc.set_bit_rate(r.video_bitrate as usize);
    enc.set_max_bit_rate((r.video_bitrate * 3 / 2) as usize);
    enc.set_gop(spec.keyint);
    let mut opts = ff::Dictionary::new();
    opts.set("preset", &spec.preset);
    // Keyframes only where we force them (same PTS on every rung), as IDRs,
    // closed GOPs: this is what keeps segments aligned across the ladder.
    opts.set("forced-idr", "1");
    opts.set("x264-params", "scenecut=0:open-gop=0");
    opts.set("bufsize", &(r.video_bitrate * 2).to_string());
    enc.open_as_with(codec, opts)
        .map_err(encoder_error("x264 open"))
}

/// The picture as the encoder must see it: our timestamp, and never the
/// source's picture type (only our forced frames may be keyframes).
fn stamp(mut picture: frame::Video, pts: i64, force_key: bool) -> frame::Video {
    picture.set_pts(Some(pts));
    picture.set_kind(if force_key {
        ff::picture::Type::I
    } else {
        ff::picture::Type::None
    });
    picture
}

fn write_packets(
    enc: &mut ff::encoder::Video,
    seg: &mut Segmenter<'_>,
) -> Result<(), TranscodeError> {
    let mut pkt = Packet::empty();
    while enc.receive_packet(&mut pkt).is_ok() {
        seg.video_packet(&pkt)?;
    }
    Ok(())
}

/// Scales to one size into YUV 4:2:0. The context is rebuilt whenever the
/// input's format or size changes (a stream may change resolution midway).
struct Scaler {
    size: (u32, u32),
    ctx: Option<(scaling::Context, (Pixel, u32, u32))>,
}

impl Scaler {
    fn new(size: (u32, u32)) -> Self {
        Scaler { size, ctx: None }
    }

    fn scale(&mut self, frame: &frame::Video) -> Result<frame::Video, TranscodeError> {
        let input = (frame.format(), frame.width(), frame.height());
        if self.ctx.as_ref().is_none_or(|(_, k)| *k != input) {
            let ctx = scaling::Context::get(
                input.0,
                input.1,
                input.2,
                Pixel::YUV420P,
                self.size.0,
                self.size.1,
                scaling::Flags::BILINEAR,
            )
            .map_err(encoder_error("scaler"))?;
            self.ctx = Some((ctx, input));
        }
        let (sws, _) = self.ctx.as_mut().expect("just set");
        let mut scaled = frame::Video::empty();
        sws.run(frame, &mut scaled)
            .map_err(encoder_error("scale"))?;
        Ok(scaled)
    }
}
