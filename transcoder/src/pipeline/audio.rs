//! The audio chain, run once for the whole ladder: decode → filter
//! (resample to 48 kHz, downmix to stereo, 1024-sample frames) → AAC. Every
//! rung muxes the same AAC packets, so the rungs stay interchangeable.

use ff::{codec, filter, frame, Packet, Rational, Rescale};
use ffmpeg_next as ff;

use super::decoder;
use crate::encoders;
use crate::error::{encoder_error, TranscodeError};

pub(super) struct AudioChain {
    dec: codec::decoder::Audio,
    graph: filter::Graph,
    enc: codec::encoder::Audio,
    /// Start of the video in the audio stream's time base.
    origin: i64,
    sink_tb: Rational,
    enc_tb: Rational,
}

impl AudioChain {
    /// `origin_seconds`: the video's start, which becomes time zero.
    pub(super) fn new(
        stream: &ff::format::stream::Stream,
        bitrate: u64,
        origin_seconds: f64,
    ) -> Result<Self, TranscodeError> {
        let st_tb = stream.time_base();
        let dec = decoder::open_audio(stream)?;
        let enc = encoders::aac_stereo(bitrate, false)?;
        let mut graph = resampler(&dec, st_tb, &enc)?;
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

    /// What every rung's muxer needs for its audio stream.
    pub(super) fn parameters(&self) -> (codec::Parameters, Rational) {
        (codec::Parameters::from(&self.enc), self.enc_tb)
    }

    /// Decode one source packet; finished AAC packets are appended to `out`.
    pub(super) fn packet(
        &mut self,
        pkt: &Packet,
        out: &mut Vec<Packet>,
    ) -> Result<(), TranscodeError> {
        decoder::send_packet(&mut self.dec, pkt, "audio decoding failed")?;
        self.drain_decoder(out)
    }

    /// End of input: flush decoder, filter and encoder into `out`.
    pub(super) fn finish(&mut self, out: &mut Vec<Packet>) -> Result<(), TranscodeError> {
        let _ = self.dec.send_eof();
        self.drain_decoder(out)?;
        let _ = self.graph.get("in").expect("added").source().flush();
        self.drain_graph(out)?;
        let _ = self.enc.send_eof();
        self.drain_encoder(out);
        Ok(())
    }

    fn drain_decoder(&mut self, out: &mut Vec<Packet>) -> Result<(), TranscodeError> {
        let mut f = frame::Audio::empty();
        while decoder::receive_frame(&mut self.dec, &mut f, "audio decoding failed")? {
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
                .map_err(encoder_error("audio filter"))?;
            self.drain_graph(out)?;
        }
        Ok(())
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
            self.enc.send_frame(&f).map_err(encoder_error("aac"))?;
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
}

/// abuffer → aresample → abuffersink, the sink set to the encoder's format
/// and frame size (AAC takes exactly 1024 samples per frame).
fn resampler(
    dec: &codec::decoder::Audio,
    st_tb: Rational,
    enc: &codec::encoder::Audio,
) -> Result<filter::Graph, TranscodeError> {
    // Some containers leave the layout unset; assume the default for the
    // channel count, as the ffmpeg CLI does.
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
    let ferr = encoder_error("audio filter");
    graph
        .add(&filter::find("abuffer").expect("abuffer"), "in", &args)
        .map_err(&ferr)?;
    graph
        .add(
            &filter::find("abuffersink").expect("abuffersink"),
            "out",
            "",
        )
        .map_err(&ferr)?;
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
        .map_err(&ferr)?;
    graph.validate().map_err(&ferr)?;
    graph
        .get("out")
        .expect("added")
        .sink()
        .set_frame_size(enc.frame_size());
    Ok(graph)
}
