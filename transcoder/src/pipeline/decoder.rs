//! Opening the source's decoders and talking to them. FFmpeg's send and
//! receive calls report "needs more input" (EAGAIN) and "drained" (EOF) as
//! errors; in a decode loop they are the normal rhythm, not failures.

use ff::codec::{self, threading};
use ff::{Packet, Stream};
use ffmpeg_next as ff;

use crate::error::{corrupt, TranscodeError};

pub(super) fn is_again(e: &ff::Error) -> bool {
    matches!(e, ff::Error::Other { errno } if *errno == ff::util::error::EAGAIN)
}

/// A strict decoder: bitstream errors fail the job instead of being
/// concealed, because a corrupt upload must be rejected, not turned into a
/// broken rendition. `what` names the decoder in errors.
fn open(
    stream: &Stream,
    threading: threading::Config,
    what: &str,
) -> Result<codec::decoder::Opened, TranscodeError> {
    let mut ctx =
        codec::context::Context::from_parameters(stream.parameters()).map_err(corrupt(what))?;
    ctx.set_threading(threading);
    let mut d = ctx.decoder();
    d.set_packet_time_base(stream.time_base());
    let codec = ff::decoder::find(d.id())
        .ok_or_else(|| TranscodeError::Unsupported(format!("no decoder for {}", d.id().name())))?;
    let mut opts = ff::Dictionary::new();
    opts.set("err_detect", "explode");
    d.open_as_with(codec, opts).map_err(corrupt(what))
}

/// Frame threads on every core: decoding is the one step no rung shares.
pub(super) fn open_video(stream: &Stream) -> Result<codec::decoder::Video, TranscodeError> {
    let mut threading = threading::Config::default();
    threading.kind = threading::Type::Frame;
    threading.count = 0;
    open(stream, threading, "video decoder")?
        .video()
        .map_err(corrupt("video decoder"))
}

pub(super) fn open_audio(stream: &Stream) -> Result<codec::decoder::Audio, TranscodeError> {
    open(stream, threading::Config::default(), "audio decoder")?
        .audio()
        .map_err(corrupt("audio decoder"))
}

/// Feed one packet; a full decoder (EAGAIN) is drained by the caller next.
pub(super) fn send_packet(
    dec: &mut codec::decoder::Opened,
    pkt: &Packet,
    what: &str,
) -> Result<(), TranscodeError> {
    match dec.send_packet(pkt) {
        Ok(()) => Ok(()),
        Err(e) if is_again(&e) => Ok(()),
        Err(e) => Err(corrupt(what)(e)),
    }
}

/// True when `frame` holds a new frame; false when the decoder wants more
/// input or is drained.
pub(super) fn receive_frame(
    dec: &mut codec::decoder::Opened,
    frame: &mut ff::Frame,
    what: &str,
) -> Result<bool, TranscodeError> {
    match dec.receive_frame(frame) {
        Ok(()) => Ok(true),
        Err(ff::Error::Eof) => Ok(false),
        Err(e) if is_again(&e) => Ok(false),
        Err(e) => Err(corrupt(what)(e)),
    }
}
