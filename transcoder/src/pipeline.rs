//! The transcode driver: demux + decode on the calling thread, one encoder
//! thread per rung, sink calls (keys, encrypted segments, playlists) back on
//! the calling thread.

use std::path::Path;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;

use ff::{codec, filter, frame, Packet, Rational};
use ffmpeg_next as ff;

use crate::crypto::{encrypt_segment, segment_iv, ContentKey};
use crate::error::{corrupt, ff_msg, TranscodeError};
use crate::frames::encode_poster;
use crate::ladder::plan_ladder;
use crate::playlist::{master_playlist, media_playlist, segment_name, Variant};
use crate::probe::{self, Source};
use crate::rung::{self, Event, Job, RungSpec};
use crate::sink::OutputSink;
use crate::{RenditionReport, TranscodeOptions, TranscodeReport};

/// Transcode `input` into an encrypted HLS ladder, delivering every output
/// to `sink` (see [`OutputSink`] for the order of calls) and reporting
/// progress in `0.0..=1.0` to `progress` (monotonic, ends with exactly 1.0).
///
/// Runs on the calling thread plus one thread per rung; blocks until done.
/// On error, calls [`OutputSink::abort`] once (so partial uploads can be
/// deleted) and returns the error; see [`TranscodeError::is_bad_media`].
pub fn transcode(
    input: &Path,
    opts: &TranscodeOptions,
    sink: &mut dyn OutputSink,
    progress: &mut dyn FnMut(f32),
) -> Result<TranscodeReport, TranscodeError> {
    opts.validate()?;
    let result = run(input, opts, sink, progress);
    if result.is_err() {
        sink.abort();
    }
    result
}

fn is_again(e: &ff::Error) -> bool {
    matches!(e, ff::Error::Other { errno } if *errno == ff::util::error::EAGAIN)
}

/// Decode → filter (resample, downmix to stereo, 1024-sample frames) → AAC.
struct AudioChain {
    dec: codec::decoder::Audio,
    graph: filter::Graph,
    enc: codec::encoder::Audio,
    origin: i64,
    sink_tb: Rational,
    enc_tb: Rational,
}

impl AudioChain {
    fn new(
        stream: &ff::format::stream::Stream,
        bitrate: u64,
        origin_seconds: f64,
    ) -> Result<Self, TranscodeError> {
        let st_tb = stream.time_base();
        let mut ctx = codec::context::Context::from_parameters(stream.parameters())
            .map_err(corrupt("audio decoder"))?;
        ctx.set_threading(Default::default());
        let mut d = ctx.decoder();
        d.set_packet_time_base(st_tb);
        let mut opts = ff::Dictionary::new();
        opts.set("err_detect", "explode");
        let codec_d = ff::decoder::find(d.id())
            .ok_or_else(|| TranscodeError::Unsupported("no decoder for the audio codec".into()))?;
        let dec = d
            .open_as_with(codec_d, opts)
            .map_err(corrupt("audio decoder"))?
            .audio()
            .map_err(corrupt("audio decoder"))?;

        let aac = ff::encoder::find(codec::Id::AAC)
            .ok_or_else(|| TranscodeError::Encoder("no AAC encoder".into()))?;
        let mut enc = codec::context::Context::new_with_codec(aac)
            .encoder()
            .audio()
            .map_err(|e| TranscodeError::Encoder(ff_msg(e)))?;
        enc.set_rate(48_000);
        enc.set_channel_layout(ff::ChannelLayout::STEREO);
        enc.set_channels(2);
        enc.set_format(ff::format::Sample::F32(ff::format::sample::Type::Planar));
        enc.set_bit_rate(bitrate as usize);
        enc.set_time_base((1, 48_000));
        let enc = enc
            .open_as(aac)
            .map_err(|e| TranscodeError::Encoder(format!("aac: {}", ff_msg(e))))?;

        let layout = if dec.channel_layout().bits() == 0 {
            ff::ChannelLayout::default(i32::from(dec.channels()))
        } else {
            dec.channel_layout()
        };
        let mut graph = filter::Graph::new();
        let args = format!(
            "time_base={}/{}:sample_rate={}:sample_fmt={}:channel_layout=0x{:x}",
            st_tb.numerator(),
            st_tb.denominator(),
            dec.rate(),
            dec.format().name(),
            layout.bits()
        );
        let ferr = |e: ff::Error| TranscodeError::Encoder(format!("audio filter: {}", ff_msg(e)));
        graph
            .add(&filter::find("abuffer").expect("abuffer"), "in", &args)
            .map_err(ferr)?;
        graph
            .add(
                &filter::find("abuffersink").expect("abuffersink"),
                "out",
                "",
            )
            .map_err(ferr)?;
        {
            let mut out = graph.get("out").expect("added");
            out.set_sample_format(enc.format());
            out.set_channel_layout(ff::ChannelLayout::STEREO);
            out.set_sample_rate(48_000);
        }
        graph
            .output("in", 0)
            .and_then(|p| p.input("out", 0))
            .and_then(|p| p.parse("aresample=48000"))
            .map_err(ferr)?;
        graph.validate().map_err(ferr)?;
        graph
            .get("out")
            .expect("added")
            .sink()
            .set_frame_size(enc.frame_size());
        let sink_tb = graph.get("out").expect("added").sink().time_base();
        let enc_tb = enc.time_base();
        let origin = (origin_seconds * f64::from(st_tb.denominator())
            / f64::from(st_tb.numerator()))
        .round() as i64;
        Ok(AudioChain {
            dec,
            graph,
            enc,
            origin,
            sink_tb,
            enc_tb,
        })
    }

    fn parameters(&self) -> (codec::Parameters, Rational) {
        (codec::Parameters::from(&self.enc), self.enc_tb)
    }

    fn drain_decoder(&mut self, out: &mut Vec<Packet>) -> Result<(), TranscodeError> {
        let mut f = frame::Audio::empty();
        loop {
            match self.dec.receive_frame(&mut f) {
                Ok(()) => {
                    if f.is_corrupt() {
                        return Err(TranscodeError::Corrupt(
                            "audio frame failed to decode".into(),
                        ));
                    }
                    let ts = f.timestamp().map(|t| t - self.origin);
                    f.set_pts(ts);
                    self.graph
                        .get("in")
                        .expect("added")
                        .source()
                        .add(&f)
                        .map_err(|e| {
                            TranscodeError::Encoder(format!("audio filter: {}", ff_msg(e)))
                        })?;
                    self.drain_graph(out)?;
                }
                Err(ff::Error::Eof) => return Ok(()),
                Err(e) if is_again(&e) => return Ok(()),
                Err(e) => return Err(corrupt("audio decoding failed")(e)),
            }
        }
    }

    fn drain_graph(&mut self, out: &mut Vec<Packet>) -> Result<(), TranscodeError> {
        let mut f = frame::Audio::empty();
        while self
            .graph
            .get("out")
            .expect("added")
            .sink()
            .frame(&mut f)
            .is_ok()
        {
            if let Some(p) = f.pts() {
                f.set_pts(Some(p.rescale(self.sink_tb, self.enc_tb)));
            }
            self.enc
                .send_frame(&f)
                .map_err(|e| TranscodeError::Encoder(format!("aac: {}", ff_msg(e))))?;
            self.drain_encoder(out);
        }
        Ok(())
    }

    fn drain_encoder(&mut self, out: &mut Vec<Packet>) {
        let mut p = Packet::empty();
        while self.enc.receive_packet(&mut p).is_ok() {
            out.push(std::mem::replace(&mut p, Packet::empty()));
        }
    }

    fn packet(&mut self, pkt: &Packet, out: &mut Vec<Packet>) -> Result<(), TranscodeError> {
        match self.dec.send_packet(pkt) {
            Ok(()) => {}
            Err(e) if is_again(&e) => {}
            Err(e) => return Err(corrupt("audio decoding failed")(e)),
        }
        self.drain_decoder(out)
    }

    fn finish(&mut self, out: &mut Vec<Packet>) -> Result<(), TranscodeError> {
        let _ = self.dec.send_eof();
        self.drain_decoder(out)?;
        let _ = self.graph.get("in").expect("added").source().flush();
        self.drain_graph(out)?;
        let _ = self.enc.send_eof();
        self.drain_encoder(out);
        Ok(())
    }
}

use ff::Rescale;

/// State kept on the calling thread while rungs run.
struct Collector<'s> {
    sink: &'s mut dyn OutputSink,
    names: Vec<String>,
    keys: Vec<(ContentKey, String)>,
    rotate_every: usize,
    /// Encrypted size of each segment, per rung.
    sizes: Vec<Vec<Option<usize>>>,
    done: Vec<Option<(String, usize)>>,
}

impl Collector<'_> {
    fn handle(&mut self, ev: Event) -> Result<(), TranscodeError> {
        match ev {
            Event::Segment { rung, index, bytes } => {
                let (key, _) = self.keys.get(index / self.rotate_every).ok_or_else(|| {
                    TranscodeError::Encoder(format!("segment {index} has no key"))
                })?;
                let enc = encrypt_segment(&key.key, &segment_iv(index as u64), bytes);
                let path = format!("{}/{}", self.names[rung], segment_name(index));
                self.sink.put(&path, &enc)?;
                let sizes = &mut self.sizes[rung];
                if sizes.len() <= index {
                    sizes.resize(index + 1, None);
                }
                sizes[index] = Some(enc.len());
                Ok(())
            }
            Event::Done {
                rung,
                codecs,
                segments,
            } => {
                self.done[rung] = Some((codecs, segments));
                Ok(())
            }
            Event::Failed { error } => Err(error),
        }
    }

    fn drain(&mut self, rx: &Receiver<Event>) -> Result<(), TranscodeError> {
        while let Ok(ev) = rx.try_recv() {
            self.handle(ev)?;
        }
        Ok(())
    }
}

fn run(
    input: &Path,
    opts: &TranscodeOptions,
    sink: &mut dyn OutputSink,
    progress: &mut dyn FnMut(f32),
) -> Result<TranscodeReport, TranscodeError> {
    let Source {
        mut ictx,
        info,
        video_index,
        audio_index,
    } = probe::open(input, &opts.limits)?;
    if ictx.duration() == 0 {
        return Err(TranscodeError::ZeroDuration(
            "the container reports a duration of 0".into(),
        ));
    }
    let renditions = plan_ladder(info.width, info.height, &opts.rungs);

    let vst = ictx.stream(video_index).expect("validated");
    let v_tb = vst.time_base();
    let frame_rate = [vst.avg_frame_rate(), vst.rate()]
        .into_iter()
        .find(|r| r.numerator() > 0 && r.denominator() > 0 && f64::from(*r) <= 240.0)
        .unwrap_or(Rational(30, 1));
    let origin_pts = if vst.start_time() != ff::ffi::AV_NOPTS_VALUE {
        vst.start_time()
    } else {
        0
    };
    let origin_seconds = origin_pts as f64 * f64::from(v_tb);
    let mut vctx = codec::context::Context::from_parameters(vst.parameters())
        .map_err(corrupt("video decoder"))?;
    let mut threading = codec::threading::Config::default();
    threading.kind = codec::threading::Type::Frame;
    threading.count = 0;
    vctx.set_threading(threading);
    let mut vd = vctx.decoder();
    vd.set_packet_time_base(v_tb);
    let vcodec = ff::decoder::find(vd.id()).ok_or_else(|| {
        TranscodeError::Unsupported(format!("no decoder for {}", info.video_codec))
    })?;
    let mut dopts = ff::Dictionary::new();
    // Fail on bitstream errors instead of concealing them: a corrupt upload
    // must be rejected, not turned into a broken rendition.
    dopts.set("err_detect", "explode");
    let mut vdec = vd
        .open_as_with(vcodec, dopts)
        .map_err(corrupt("video decoder"))?
        .video()
        .map_err(corrupt("video decoder"))?;

    let copy = copy_decision(&ictx, video_index, &info, &renditions, opts);

    let mut audio = match audio_index {
        Some(ai) => Some(AudioChain::new(
            &ictx.stream(ai).expect("validated"),
            opts.audio_bitrate,
            origin_seconds,
        )?),
        None => None,
    };
    let audio_params = audio.as_ref().map(AudioChain::parameters);

    let fps = f64::from(frame_rate).clamp(1.0, 240.0);
    let keyint = ((opts.segment_seconds * fps * 2.0).ceil() as u32).max(2);
    let seg_ticks = opts.segment_seconds / f64::from(v_tb);
    let duration_hint = info.duration_seconds;
    let poster_at = if duration_hint > 0.0 {
        (duration_hint * 0.1).max(duration_hint.min(2.0) * 0.5)
    } else {
        1.0
    };

    let mut collector = Collector {
        sink,
        names: renditions.iter().map(|r| r.name.clone()).collect(),
        keys: Vec::new(),
        rotate_every: opts.rotate_every as usize,
        sizes: vec![Vec::new(); renditions.len()],
        done: vec![None; renditions.len()],
    };
    let (ev_tx, ev_rx) = mpsc::channel::<Event>();

    let outcome: Result<DecodeOutcome, TranscodeError> = std::thread::scope(|s| {
        let (job_txs, rxs): (Vec<SyncSender<Job>>, Vec<_>) = renditions
            .iter()
            .map(|_| mpsc::sync_channel::<Job>(opts.queue_frames))
            .unzip();
        // Cascade: a rung at most 2/3 the height of the next larger encoded
        // rung scales from that rung's picture (cheaper than from the full
        // source frame; the ratio limit keeps repeated filtering mild).
        let parent: Vec<Option<usize>> = (0..renditions.len())
            .map(|i| {
                (i > 0
                    && !(i == 1 && copy.is_some())
                    && renditions[i - 1].height * 2 >= renditions[i].height * 3)
                    .then(|| i - 1)
            })
            .collect();
        let video_txs: Vec<SyncSender<Job>> = (0..renditions.len())
            .filter(|&i| parent[i].is_none() && !(i == 0 && copy.is_some()))
            .map(|i| job_txs[i].clone())
            .collect();
        let mut handles = Vec::new();
        for ((i, r), rx) in renditions.iter().enumerate().zip(rxs) {
            let child = (i + 1 < renditions.len() && parent[i + 1] == Some(i))
                .then(|| job_txs[i + 1].clone());
            let spec = RungSpec {
                index: i,
                rendition: r.clone(),
                rotation: info.rotation,
                time_base: v_tb,
                frame_rate,
                preset: opts.preset.clone(),
                keyint,
                audio: audio_params.clone(),
                copy: if i == 0 { copy.clone() } else { None },
                child,
            };
            let etx = ev_tx.clone();
            handles.push(
                std::thread::Builder::new()
                    .name(format!("sealcast-rung-{}", r.name))
                    .spawn_scoped(s, move || rung::run(spec, rx, etx))
                    .map_err(TranscodeError::Io)?,
            );
        }
        drop(ev_tx);

        let res = decode_loop(
            &mut ictx,
            &mut vdec,
            video_index,
            audio_index,
            audio.as_mut(),
            &job_txs,
            &video_txs,
            &mut collector,
            &ev_rx,
            DecodeParams {
                v_tb,
                origin_pts,
                seg_ticks,
                duration: duration_hint,
                poster_at,
                rotation: info.rotation,
                display: (info.width, info.height),
                limits: opts.limits,
                rotate_every: opts.rotate_every as usize,
                copy: copy.is_some(),
            },
            progress,
        );
        // Closing the channels tells the rungs to flush and finish.
        drop(job_txs);
        drop(video_txs);
        let mut rung_err = None;
        if res.is_ok() {
            for ev in ev_rx.iter() {
                if let Err(e) = collector.handle(ev) {
                    rung_err = Some(e);
                    break;
                }
            }
        }
        drop(ev_rx);
        for h in handles {
            if h.join().is_err() && rung_err.is_none() && res.is_ok() {
                rung_err = Some(TranscodeError::Encoder(
                    "a rung encoder thread panicked".into(),
                ));
            }
        }
        match (res, rung_err) {
            (Err(e), _) => Err(e),
            (Ok(_), Some(e)) => Err(e),
            (Ok(v), None) => Ok(v),
        }
    });
    let (seg_starts, end_pts, poster) = outcome?;

    // All rungs must agree on the segmentation.
    let n = seg_starts.len();
    for (i, d) in collector.done.iter().enumerate() {
        match d {
            Some((_, segs)) if *segs == n => {}
            other => {
                return Err(TranscodeError::Encoder(format!(
                    "rung {} produced {:?} segments, expected {n}",
                    collector.names[i],
                    other.as_ref().map(|o| o.1)
                )))
            }
        }
    }
    let tb = f64::from(v_tb);
    let durations: Vec<f64> = (0..n)
        .map(|k| {
            let end = if k + 1 < n {
                seg_starts[k + 1]
            } else {
                end_pts
            };
            (end - seg_starts[k]) as f64 * tb
        })
        .collect();
    let total = (end_pts - seg_starts[0]) as f64 * tb;
    if total <= 0.0 {
        return Err(TranscodeError::ZeroDuration(
            "the video has no duration".into(),
        ));
    }

    let sink = collector.sink;
    if let Some(jpeg) = poster {
        sink.put("poster.jpg", &jpeg)?;
    }
    let key_uris: Vec<String> = collector.keys.iter().map(|(_, u)| u.clone()).collect();
    let mut variants = Vec::new();
    let mut reports = Vec::new();
    for (i, r) in renditions.iter().enumerate() {
        let pl = media_playlist(&durations, &key_uris, opts.rotate_every);
        sink.put(&format!("{}/index.m3u8", r.name), &pl)?;
        let sizes: Vec<usize> = collector.sizes[i].iter().map(|s| s.unwrap_or(0)).collect();
        let total_bytes: usize = sizes.iter().sum();
        let peak = sizes
            .iter()
            .zip(&durations)
            .map(|(&b, &d)| (b as f64 * 8.0 / d.max(0.5)) as u64)
            .max()
            .unwrap_or(0);
        let average = (total_bytes as f64 * 8.0 / total) as u64;
        let video_codec = collector.done[i]
            .as_ref()
            .map(|d| d.0.clone())
            .unwrap_or_default();
        let codecs = if audio_params.is_some() {
            format!("{video_codec},mp4a.40.2")
        } else {
            video_codec
        };
        variants.push(Variant {
            uri: format!("{}/index.m3u8", r.name),
            bandwidth: peak.max(average),
            average_bandwidth: average,
            codecs: codecs.clone(),
            width: r.width,
            height: r.height,
            frame_rate: Some(f64::from(frame_rate)),
        });
        reports.push(RenditionReport {
            name: r.name.clone(),
            width: r.width,
            height: r.height,
            bandwidth: peak.max(average),
            average_bandwidth: average,
            codecs,
            copied: i == 0 && copy.is_some(),
        });
    }
    sink.put("master.m3u8", &master_playlist(&variants))?;
    progress(1.0);
    Ok(TranscodeReport {
        duration_seconds: total,
        renditions: reports,
        segment_count: n,
        key_count: collector.keys.len(),
        source: info,
    })
}

/// Segment start PTS list, end PTS, poster JPEG.
type DecodeOutcome = (Vec<i64>, i64, Option<Vec<u8>>);

struct DecodeParams {
    v_tb: Rational,
    origin_pts: i64,
    seg_ticks: f64,
    duration: f64,
    poster_at: f64,
    rotation: u32,
    display: (u32, u32),
    limits: probe::Limits,
    rotate_every: usize,
    /// Rung 0 re-muxes source packets; cuts follow the source keyframes.
    copy: bool,
}

/// State of the video side of the decode loop.
struct VideoState {
    seg_starts: Vec<i64>,
    next_boundary: f64,
    last_pts: Option<i64>,
    prev_pts: Option<i64>,
    last_dur: i64,
    poster: Option<Vec<u8>>,
    first_frame: Option<Arc<frame::Video>>,
    last_progress: f32,
    /// Copy path: PTS of the source keyframes chosen as cuts, not yet
    /// matched with a decoded frame.
    copy_cuts: std::collections::VecDeque<i64>,
    next_copy_boundary: f64,
}

#[allow(clippy::too_many_arguments)]
fn decode_loop(
    ictx: &mut ff::format::context::Input,
    vdec: &mut codec::decoder::Video,
    video_index: usize,
    audio_index: Option<usize>,
    mut audio: Option<&mut AudioChain>,
    job_txs: &[SyncSender<Job>],
    video_txs: &[SyncSender<Job>],
    collector: &mut Collector<'_>,
    ev_rx: &Receiver<Event>,
    p: DecodeParams,
    progress: &mut dyn FnMut(f32),
) -> Result<DecodeOutcome, TranscodeError> {
    let mut st = VideoState {
        seg_starts: Vec::new(),
        next_boundary: 0.0,
        last_pts: None,
        prev_pts: None,
        last_dur: 0,
        poster: None,
        first_frame: None,
        last_progress: 0.0,
        copy_cuts: Default::default(),
        next_copy_boundary: 0.0,
    };
    let mut pkt = Packet::empty();
    let mut apkts = Vec::new();
    loop {
        match pkt.read(ictx) {
            Ok(()) => {}
            Err(ff::Error::Eof) => break,
            Err(e) if is_again(&e) => continue,
            Err(e) => return Err(corrupt("reading the file failed")(e)),
        }
        if pkt.stream() == video_index {
            if p.copy {
                copy_packet(&pkt, &mut st, &job_txs[..1], collector, ev_rx, &p)?;
            }
            match vdec.send_packet(&pkt) {
                Ok(()) => {}
                Err(e) if is_again(&e) => {}
                Err(e) => return Err(corrupt("video decoding failed")(e)),
            }
            drain_video(vdec, &mut st, video_txs, collector, ev_rx, &p, progress)?;
        } else if Some(pkt.stream()) == audio_index {
            if let Some(a) = audio.as_deref_mut() {
                a.packet(&pkt, &mut apkts)?;
                send_audio(&mut apkts, job_txs, collector, ev_rx)?;
            }
        }
        collector.drain(ev_rx)?;
    }
    let _ = vdec.send_eof();
    drain_video(vdec, &mut st, video_txs, collector, ev_rx, &p, progress)?;
    if let Some(a) = audio {
        a.finish(&mut apkts)?;
        send_audio(&mut apkts, job_txs, collector, ev_rx)?;
    }
    let Some(last) = st.last_pts else {
        return Err(TranscodeError::ZeroDuration(
            "the video stream contains no decodable frames".into(),
        ));
    };
    if st.poster.is_none() {
        if let Some(f) = &st.first_frame {
            st.poster = Some(encode_poster(f, p.rotation, p.display.0, p.display.1)?);
        }
    }
    let end = last + st.last_dur.max(1);
    Ok((st.seg_starts, end, st.poster))
}

/// Send to every rung; if one has gone away, surface the error it reported.
fn broadcast(
    job: impl Fn() -> Job,
    job_txs: &[SyncSender<Job>],
    collector: &mut Collector<'_>,
    ev_rx: &Receiver<Event>,
) -> Result<(), TranscodeError> {
    for tx in job_txs {
        if tx.send(job()).is_err() {
            // The rung exited early: its Failed event explains why.
            // (A panicked rung sends nothing, hence the timeout.)
            while let Ok(ev) = ev_rx.recv_timeout(std::time::Duration::from_secs(5)) {
                collector.handle(ev)?;
            }
            return Err(TranscodeError::Encoder(
                "a rung encoder stopped unexpectedly".into(),
            ));
        }
    }
    Ok(())
}

fn send_audio(
    apkts: &mut Vec<Packet>,
    job_txs: &[SyncSender<Job>],
    collector: &mut Collector<'_>,
    ev_rx: &Receiver<Event>,
) -> Result<(), TranscodeError> {
    for p in apkts.drain(..) {
        let p = Arc::new(p);
        broadcast(|| Job::Audio(p.clone()), job_txs, collector, ev_rx)?;
    }
    Ok(())
}

fn drain_video(
    vdec: &mut codec::decoder::Video,
    st: &mut VideoState,
    job_txs: &[SyncSender<Job>],
    collector: &mut Collector<'_>,
    ev_rx: &Receiver<Event>,
    p: &DecodeParams,
    progress: &mut dyn FnMut(f32),
) -> Result<(), TranscodeError> {
    loop {
        let mut f = frame::Video::empty();
        match vdec.receive_frame(&mut f) {
            Ok(()) => {}
            Err(ff::Error::Eof) => return Ok(()),
            Err(e) if is_again(&e) => return Ok(()),
            Err(e) => return Err(corrupt("video decoding failed")(e)),
        }
        if f.is_corrupt() || f.has_decode_errors() {
            return Err(TranscodeError::Corrupt(
                "a video frame failed to decode".into(),
            ));
        }
        // Mid-stream resolution changes must respect the limits too.
        p.limits.check(f.width(), f.height())?;

        // Sanitize timestamps: relative to the stream start, strictly
        // increasing (x264 rejects duplicates; VFR gaps are kept).
        let raw = f.timestamp().map(|t| t - p.origin_pts);
        let pts = match (raw, st.last_pts) {
            (Some(t), Some(l)) if t > l => t,
            (Some(t), None) => t.max(0),
            (_, Some(l)) => l + st.last_dur.max(1),
            (None, None) => 0,
        };
        if let Some(l) = st.last_pts {
            st.last_dur = pts - l;
        } else {
            st.last_dur = (f64::from(Rational(1, 30)) / f64::from(p.v_tb))
                .round()
                .max(1.0) as i64;
        }
        st.prev_pts = st.last_pts;
        st.last_pts = Some(pts);

        let force_key = if p.copy {
            // Same PTS as the copied rung's cuts (source keyframes).
            while st.copy_cuts.front().is_some_and(|&c| c < pts) {
                st.copy_cuts.pop_front();
            }
            let hit = st.copy_cuts.front() == Some(&pts);
            if hit {
                st.copy_cuts.pop_front();
            }
            hit || st.seg_starts.is_empty()
        } else {
            st.seg_starts.is_empty() || pts as f64 >= st.next_boundary - 0.5
        };
        if force_key {
            let k = st.seg_starts.len();
            st.seg_starts.push(pts);
            while st.next_boundary - 0.5 <= pts as f64 {
                st.next_boundary += p.seg_ticks;
            }
            if k % p.rotate_every == 0 {
                let key = ContentKey::generate();
                let uri = collector.sink.content_key(&key)?;
                collector.keys.push((key, uri));
            }
        }
        let frame = Arc::new(f);
        let t = pts as f64 * f64::from(p.v_tb);
        if st.first_frame.is_none() {
            st.first_frame = Some(frame.clone());
        }
        if st.poster.is_none() && t >= p.poster_at {
            st.poster = Some(encode_poster(&frame, p.rotation, p.display.0, p.display.1)?);
            st.first_frame = None;
        }
        broadcast(
            || Job::Video {
                frame: frame.clone(),
                pts,
                force_key,
            },
            job_txs,
            collector,
            ev_rx,
        )?;
        if p.duration > 0.0 {
            let frac = ((t / p.duration) as f32).clamp(0.0, 0.99);
            if frac - st.last_progress >= 0.005 {
                st.last_progress = frac;
                progress(frac);
            }
        }
    }
}

/// Copy path: forward one source video packet to the copied rung, deciding
/// whether it starts a segment: the first keyframe at or after each
/// multiple of the segment duration.
fn copy_packet(
    pkt: &Packet,
    st: &mut VideoState,
    copy_tx: &[SyncSender<Job>],
    collector: &mut Collector<'_>,
    ev_rx: &Receiver<Event>,
    p: &DecodeParams,
) -> Result<(), TranscodeError> {
    let mut cp = pkt.clone();
    let first = st.copy_cuts.is_empty() && st.seg_starts.is_empty() && st.next_copy_boundary == 0.0;
    cp.set_pts(
        pkt.pts()
            .map(|t| (t - p.origin_pts).max(if first { 0 } else { i64::MIN })),
    );
    cp.set_dts(pkt.dts().map(|t| t - p.origin_pts));
    let rel = cp.pts().unwrap_or(0);
    let cut = pkt.is_key() && (first || rel as f64 >= st.next_copy_boundary - 0.5);
    if cut {
        st.copy_cuts.push_back(rel);
        while st.next_copy_boundary - 0.5 <= rel as f64 {
            st.next_copy_boundary += p.seg_ticks;
        }
    }
    let packet = Arc::new(cp);
    broadcast(
        || Job::Copy {
            packet: packet.clone(),
            cut,
        },
        copy_tx,
        collector,
        ev_rx,
    )
}

/// Whether (and with which parameters) the top rung can be re-muxed from
/// the source instead of encoded: H.264 8-bit 4:2:0, square pixels, no
/// rotation, AAC or no audio, and exactly the top rung's size. `Auto` also
/// requires the source bitrate to fit the rung (at most 1.5x its budget),
/// so a 50 Mb/s camera file is not served as the "5 Mb/s" rung; `Always`
/// skips that check.
fn copy_decision(
    ictx: &ff::format::context::Input,
    video_index: usize,
    info: &crate::MediaInfo,
    renditions: &[crate::Rendition],
    opts: &TranscodeOptions,
) -> Option<(codec::Parameters, String)> {
    if opts.copy_top == crate::CopyTop::Never {
        return None;
    }
    let top = renditions.first()?;
    let eligible = info.video_codec == "h264"
        && info.pixel_format == "yuv420p"
        && info.rotation == 0
        && info.sample_aspect_ratio.0 == info.sample_aspect_ratio.1
        && (!info.has_audio || info.audio_codec.as_deref() == Some("aac"))
        && (top.width, top.height) == (info.coded_width, info.coded_height);
    if !eligible {
        return None;
    }
    let st = ictx.stream(video_index)?;
    let par = st.parameters();
    if opts.copy_top == crate::CopyTop::Auto {
        let mut bitrate = par.bit_rate().max(0) as u64;
        if bitrate == 0 && info.duration_seconds > 0.0 {
            bitrate = (ictx.bit_rate().max(0) as f64 * 0.9) as u64;
        }
        if bitrate == 0 || bitrate > top.video_bitrate * 3 / 2 {
            return None;
        }
    }
    let codecs = crate::codecs::avc1_codecs_from_extradata(&crate::rawpar::extradata(&par))?;
    Some((par, codecs))
}
