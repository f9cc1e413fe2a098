//! The one pass over the input: packets in file order go to the video
//! decoder (and the copied rung) or through the audio chain to every rung,
//! and what the rungs report back is handled in between.

use ff::Packet;
use ffmpeg_next as ff;

use super::audio::AudioChain;
use super::decoder::is_again;
use super::rungs::Rungs;
use super::sealer::Sealer;
use super::video::{Decoded, VideoDecode};
use crate::error::{corrupt, TranscodeError};
use crate::probe::Source;

pub(super) fn run(
    source: &mut Source,
    mut video: VideoDecode<'_>,
    mut audio: Option<&mut AudioChain>,
    rungs: &Rungs<'_>,
    sealer: &mut Sealer<'_>,
) -> Result<Decoded, TranscodeError> {
    let mut pkt = Packet::empty();
    let mut aac = Vec::new();
    while read_packet(&mut source.ictx, &mut pkt)? {
        if pkt.stream() == source.video_index {
            video.packet(&pkt, rungs, sealer)?;
        } else if Some(pkt.stream()) == source.audio_index {
            if let Some(a) = audio.as_deref_mut() {
                a.packet(&pkt, &mut aac)?;
                rungs.send_audio(&mut aac, sealer)?;
            }
        }
        rungs.collect(sealer)?;
    }
    video.flush(rungs, sealer)?;
    if let Some(a) = audio {
        a.finish(&mut aac)?;
        rungs.send_audio(&mut aac, sealer)?;
    }
    video.finish()
}

/// The next packet into `pkt`; false at the end of the file.
fn read_packet(
    ictx: &mut ff::format::context::Input,
    pkt: &mut Packet,
) -> Result<bool, TranscodeError> {
    loop {
        match pkt.read(ictx) {
            Ok(()) => return Ok(true),
            Err(ff::Error::Eof) => return Ok(false),
            Err(e) if is_again(&e) => continue,
            Err(e) => return Err(corrupt("reading the file failed")(e)),
        }
    }
}
