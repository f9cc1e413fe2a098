//! One rung of the ladder, running on its own thread: scale (+ rotate),
//! encode with libx264, and cut MPEG-TS segments at the forced keyframes.
//!
//! Segments are muxed into memory (a fresh mpegts muxer per segment, so each
//! segment starts with PAT/PMT and an IDR and is independently decodable);
//! timestamps are the source's, so consecutive segments are continuous.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};

use ff::format::Pixel;
use ff::software::scaling;
use ff::{frame, Packet, Rational};
use ffmpeg_next as ff;

use crate::error::ff_msg;
use crate::error::TranscodeError;
use crate::frames::rotate;
use crate::ladder::Rendition;

/// Added to every output timestamp (90 kHz) so that B-frame DTS and AAC
/// priming are never negative in any segment; same value as ffmpeg's muxers.
const PREROLL_90K: i64 = 126_000;
const TS_TB: Rational = Rational(1, 90_000);

/// Work sent from the decoding thread to every rung.
pub(crate) enum Job {
    /// A decoded picture (shared, read-only) with its sanitized timestamp in
    /// the video stream time base, relative to the start of the video.
    Video {
        frame: Arc<frame::Video>,
        pts: i64,
        force_key: bool,
    },
    /// An encoded AAC packet (pts in the audio encoder time base).
    Audio(Arc<Packet>),
    /// Copy path only: a source video packet (timestamps already relative
    /// to the video start, video stream time base); `cut` marks the source
    /// keyframe that starts a new segment.
    Copy { packet: Arc<Packet>, cut: bool },
}

/// Results sent back to the decoding thread (which owns the sink).
pub(crate) enum Event {
    Segment {
        rung: usize,
        index: usize,
        bytes: Vec<u8>,
    },
    Done {
        rung: usize,
        codecs: String,
        segments: usize,
    },
    Failed {
        error: TranscodeError,
    },
}

pub(crate) struct RungSpec {
    pub index: usize,
    pub rendition: Rendition,
    pub rotation: u32,
    pub time_base: Rational,
    pub frame_rate: Rational,
    pub preset: String,
    pub keyint: u32,
    pub audio: Option<(ff::codec::Parameters, Rational)>,
    /// Copy path: re-mux the source's H.264 packets (these parameters)
    /// instead of encoding; the string is the RFC 6381 codec of the source.
    pub copy: Option<(ff::codec::Parameters, String)>,
    /// Where to forward our scaled (pre-rotation) pictures, if a smaller
    /// rung scales from them.
    pub child: Option<std::sync::mpsc::SyncSender<Job>>,
}

pub(crate) fn run(spec: RungSpec, rx: Receiver<Job>, tx: Sender<Event>) {
    let rung = spec.index;
    match run_inner(spec, rx, &tx) {
        Ok((codecs, segments)) => {
            let _ = tx.send(Event::Done {
                rung,
                codecs,
                segments,
            });
        }
        Err(error) => {
            let _ = tx.send(Event::Failed { error });
        }
    }
}

fn enc_err(what: &'static str) -> impl Fn(ff::Error) -> TranscodeError {
    move |e| TranscodeError::Encoder(format!("{what}: {}", ff_msg(e)))
}

fn run_inner(
    spec: RungSpec,
    rx: Receiver<Job>,
    tx: &Sender<Event>,
) -> Result<(String, usize), TranscodeError> {
    if let Some((par, codecs)) = spec.copy.clone() {
        return run_copy(spec, par, codecs, rx, tx);
    }
    let r = &spec.rendition;
    let codec = ff::encoder::find_by_name("libx264")
        .ok_or_else(|| TranscodeError::Encoder("this FFmpeg build has no libx264".into()))?;
    let mut enc = ff::codec::context::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(enc_err("x264 setup"))?;
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
    let mut enc = enc
        .open_as_with(codec, opts)
        .map_err(enc_err("x264 open"))?;
    let video_par = ff::codec::Parameters::from(&enc);

    let mut seg = Segmenter {
        rung: spec.index,
        video_par,
        video_tb: spec.time_base,
        audio: spec.audio,
        mux: None,
        current: None,
        audio_queue: VecDeque::new(),
        forced: VecDeque::new(),
        next_index: 0,
        codecs: None,
        tx,
    };

    // Pre-rotation scaled size: rotation happens after scaling.
    let (sw, sh) = if spec.rotation == 90 || spec.rotation == 270 {
        (r.height, r.width)
    } else {
        (r.width, r.height)
    };
    let mut scaler: Option<(scaling::Context, (Pixel, u32, u32))> = None;
    let mut pkt = Packet::empty();
    let child = spec.child.clone();

    for job in rx {
        match job {
            Job::Audio(p) => seg.audio_packet(&p),
            Job::Copy { .. } => {}
            Job::Video {
                frame,
                pts,
                force_key,
            } => {
                let key = (frame.format(), frame.width(), frame.height());
                if scaler.as_ref().is_none_or(|(_, k)| *k != key) {
                    let ctx = scaling::Context::get(
                        key.0,
                        key.1,
                        key.2,
                        Pixel::YUV420P,
                        sw,
                        sh,
                        scaling::Flags::BILINEAR,
                    )
                    .map_err(enc_err("scaler"))?;
                    scaler = Some((ctx, key));
                }
                let (sws, _) = scaler.as_mut().expect("just set");
                let mut scaled = frame::Video::empty();
                sws.run(&frame, &mut scaled).map_err(enc_err("scale"))?;
                drop(frame);
                // Never inherit the source's picture type: only our forced
                // frames may be keyframes.
                let kind = if force_key {
                    ff::picture::Type::I
                } else {
                    ff::picture::Type::None
                };
                let out: Arc<frame::Video> = if spec.rotation == 0 {
                    scaled.set_pts(Some(pts));
                    scaled.set_kind(kind);
                    Arc::new(scaled)
                } else {
                    Arc::new(scaled)
                };
                // Cascade: the next smaller rung scales from our (already
                // smaller) picture instead of the full-size source frame.
                if let Some(child) = &child {
                    child
                        .send(Job::Video {
                            frame: out.clone(),
                            pts,
                            force_key,
                        })
                        .map_err(|_| TranscodeError::Encoder("a smaller rung stopped".into()))?;
                }
                let out = if spec.rotation == 0 {
                    out
                } else {
                    let mut r = rotate(&out, spec.rotation);
                    r.set_pts(Some(pts));
                    r.set_kind(kind);
                    Arc::new(r)
                };
                if force_key {
                    seg.forced.push_back(pts);
                }
                enc.send_frame(&out).map_err(enc_err("x264 encode"))?;
                while enc.receive_packet(&mut pkt).is_ok() {
                    seg.video_packet(&pkt)?;
                }
            }
        }
    }
    // Channel closed: end of input.
    enc.send_eof().map_err(enc_err("x264 flush"))?;
    while enc.receive_packet(&mut pkt).is_ok() {
        seg.video_packet(&pkt)?;
    }
    seg.finish()?;
    let codecs = seg.codecs.clone().unwrap_or_else(|| "avc1.64001f".into());
    Ok((codecs, seg.next_index))
}

/// The copy path: no decoding or encoding, the source's packets are cut at
/// the keyframes the driver chose (the encoded rungs force their IDRs at the
/// same PTS) and re-muxed. The mpegts muxer converts AVCC to Annex B and
/// repeats SPS/PPS before keyframes by itself (h264_mp4toannexb).
fn run_copy(
    spec: RungSpec,
    par: ff::codec::Parameters,
    codecs: String,
    rx: Receiver<Job>,
    tx: &Sender<Event>,
) -> Result<(String, usize), TranscodeError> {
    let mut seg = Segmenter {
        rung: spec.index,
        video_par: par,
        video_tb: spec.time_base,
        audio: spec.audio,
        mux: None,
        current: None,
        audio_queue: VecDeque::new(),
        forced: VecDeque::new(),
        next_index: 0,
        codecs: Some(codecs.clone()),
        tx,
    };
    for job in rx {
        match job {
            Job::Audio(p) => seg.audio_packet(&p),
            Job::Copy { packet, cut } => {
                if cut {
                    seg.forced.push_back(packet.pts().unwrap_or(0));
                }
                seg.video_packet(&packet)?;
            }
            Job::Video { .. } => {}
        }
    }
    seg.finish()?;
    Ok((codecs, seg.next_index))
}

/// `Write` into a shared in-memory buffer (the muxer owns the writer, we keep
/// a handle to take the bytes once the segment is closed).
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("not poisoned").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The rung's single MPEG-TS muxer. One muxer for the whole rung keeps the
/// TS continuity counters running across segment boundaries (players that
/// read segments back to back, like ffmpeg's HLS demuxer, would otherwise
/// see a discontinuity and flag the last packet of every segment corrupt).
/// A segment is cut by taking the bytes written so far just before the
/// keyframe that starts the next one; mpegts writes PAT/PMT before every
/// keyframe, so each segment is independently decodable.
struct Muxer {
    octx: ff::format::context::Output,
    buf: Arc<Mutex<Vec<u8>>>,
    video_tb: Rational,
    audio_tb: Rational,
}

struct Segmenter<'a> {
    rung: usize,
    video_par: ff::codec::Parameters,
    video_tb: Rational,
    audio: Option<(ff::codec::Parameters, Rational)>,
    mux: Option<Muxer>,
    /// Index of the segment currently being written, if any.
    current: Option<usize>,
    /// AAC packets already converted to the 90 kHz output timeline.
    audio_queue: VecDeque<Packet>,
    /// PTS (video time base) of frames we forced to be IDR, in order.
    forced: VecDeque<i64>,
    next_index: usize,
    codecs: Option<String>,
    tx: &'a Sender<Event>,
}

fn to_90k(p: &mut Packet, from: Rational) {
    p.rescale_ts(from, TS_TB);
    p.set_pts(p.pts().map(|t| t + PREROLL_90K));
    p.set_dts(p.dts().map(|t| t + PREROLL_90K));
    p.set_position(-1);
}

impl Segmenter<'_> {
    fn open_muxer(&self) -> Result<Muxer, TranscodeError> {
        let e = enc_err("mpegts muxer");
        let buf = Arc::new(Mutex::new(Vec::with_capacity(1 << 20)));
        let io = ff::format::context::StreamIo::from_write(SharedBuf(buf.clone())).map_err(&e)?;
        let mut octx = ff::format::output_to_stream(io, None, Some("mpegts")).map_err(&e)?;
        {
            let mut st = octx
                .add_stream(ff::encoder::find(ff::codec::Id::None))
                .map_err(&e)?;
            st.set_parameters(self.video_par.clone());
            st.set_time_base(TS_TB);
        }
        if let Some((apar, _)) = &self.audio {
            let mut st = octx
                .add_stream(ff::encoder::find(ff::codec::Id::None))
                .map_err(&e)?;
            st.set_parameters(apar.clone());
            st.set_time_base(TS_TB);
        }
        let mut o = ff::Dictionary::new();
        // Every packet reaches `buf` as soon as it is written (no AVIO or
        // audio PES buffering), so a cut between two packets is exact.
        o.set("flush_packets", "1");
        o.set("pes_payload_size", "0");
        octx.write_header_with(o).map_err(&e)?;
        let video_tb = octx.stream(0).map(|s| s.time_base()).unwrap_or(TS_TB);
        let audio_tb = octx.stream(1).map(|s| s.time_base()).unwrap_or(TS_TB);
        Ok(Muxer {
            octx,
            buf,
            video_tb,
            audio_tb,
        })
    }

    /// Hand the bytes of the current segment to the driver thread.
    fn emit(&mut self, bytes: Vec<u8>) {
        if let Some(index) = self.current.take() {
            // The receiver only goes away when the job is being torn down.
            let _ = self.tx.send(Event::Segment {
                rung: self.rung,
                index,
                bytes,
            });
        }
    }

    fn audio_packet(&mut self, p: &Packet) {
        if let Some((_, tb)) = &self.audio {
            let mut p = p.clone();
            to_90k(&mut p, *tb);
            p.set_stream(1);
            self.audio_queue.push_back(p);
        }
    }

    /// Write queued audio with pts < `limit` (90 kHz output timeline).
    fn flush_audio_before(&mut self, limit: i64) -> Result<(), TranscodeError> {
        let Some(mux) = self.mux.as_mut() else {
            return Ok(());
        };
        while self
            .audio_queue
            .front()
            .is_some_and(|p| p.pts().unwrap_or(i64::MIN) < limit)
        {
            let mut p = self.audio_queue.pop_front().expect("checked");
            p.rescale_ts(TS_TB, mux.audio_tb);
            p.write(&mut mux.octx).map_err(enc_err("mux audio"))?;
        }
        Ok(())
    }

    fn video_packet(&mut self, pkt: &Packet) -> Result<(), TranscodeError> {
        let pts = pkt.pts().unwrap_or(0);
        while self.forced.front().is_some_and(|&f| f < pts) {
            self.forced.pop_front();
        }
        let cut = pkt.is_key() && self.forced.front() == Some(&pts);
        if cut {
            self.forced.pop_front();
        }
        if self.codecs.is_none() && pkt.is_key() {
            self.codecs = pkt.data().and_then(avc1_codecs_from_annexb);
        }
        let mut p = pkt.clone();
        to_90k(&mut p, self.video_tb);
        p.set_stream(0);
        if self.mux.is_none() {
            let m = self.open_muxer()?;
            self.mux = Some(m);
        }
        if cut || self.current.is_none() {
            let cut_pts = p.pts().unwrap_or(0);
            self.flush_audio_before(cut_pts)?;
            let bytes = {
                let mux = self.mux.as_ref().expect("opened above");
                std::mem::take(&mut *mux.buf.lock().expect("not poisoned"))
            };
            self.emit(bytes);
            self.current = Some(self.next_index);
            self.next_index += 1;
        }
        let dts = p.dts().or(p.pts()).unwrap_or(0);
        self.flush_audio_before(dts + 1)?;
        let mux = self.mux.as_mut().expect("opened above");
        p.rescale_ts(TS_TB, mux.video_tb);
        p.write(&mut mux.octx).map_err(enc_err("mux video"))?;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), TranscodeError> {
        self.flush_audio_before(i64::MAX)?;
        if let Some(mut mux) = self.mux.take() {
            mux.octx
                .write_trailer()
                .map_err(enc_err("mpegts trailer"))?;
            drop(mux.octx);
            let bytes = std::mem::take(&mut *mux.buf.lock().expect("not poisoned"));
            self.emit(bytes);
        }
        Ok(())
    }
}

/// RFC 6381 codec string (`avc1.PPCCLL`) from the first SPS NAL unit found
/// in an Annex-B H.264 access unit: profile_idc, constraint flags, level_idc.
pub(crate) fn avc1_codecs_from_annexb(data: &[u8]) -> Option<String> {
    let mut i = 0;
    while i + 3 < data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            let nal = i + 3;
            if nal + 3 < data.len() && data[nal] & 0x1f == 7 {
                return Some(format!(
                    "avc1.{:02x}{:02x}{:02x}",
                    data[nal + 1],
                    data[nal + 2],
                    data[nal + 3]
                ));
            }
            i = nal;
        } else {
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codecs_from_sps() {
        let au = [
            0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x67, 0x64, 0x00, 0x1f, 0xac,
        ];
        assert_eq!(avc1_codecs_from_annexb(&au).as_deref(), Some("avc1.64001f"));
        assert_eq!(avc1_codecs_from_annexb(&[0, 0, 1, 0x65, 1, 2, 3]), None);
    }
}
