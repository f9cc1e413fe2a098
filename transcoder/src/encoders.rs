//! The encoders set up the same way in more than one place: the ladder's
//! libx264 and AAC, and the demo sample's.

use ff::codec;
use ffmpeg_next as ff;

use crate::error::{encoder_error, TranscodeError};

/// The libx264 encoder; builds of FFmpeg without it cannot serve H.264.
pub(crate) fn libx264() -> Result<ff::Codec, TranscodeError> {
    ff::encoder::find_by_name("libx264")
        .ok_or_else(|| TranscodeError::Encoder("this FFmpeg build has no libx264".into()))
}

/// An opened AAC encoder, stereo 48 kHz planar float: the one audio format
/// every HLS player takes, whatever the source had. `global_header` for
/// containers (MP4) that keep codec headers out of the packets.
pub(crate) fn aac_stereo(
    bitrate: u64,
    global_header: bool,
) -> Result<codec::encoder::Audio, TranscodeError> {
    let aac = ff::encoder::find(codec::Id::AAC)
        .ok_or_else(|| TranscodeError::Encoder("no AAC encoder".into()))?;
    let mut enc = codec::context::Context::new_with_codec(aac)
        .encoder()
        .audio()
        .map_err(encoder_error("aac"))?;
    enc.set_rate(48_000);
    enc.set_channel_layout(ff::ChannelLayout::STEREO);
    enc.set_channels(2);
    enc.set_format(ff::format::Sample::F32(ff::format::sample::Type::Planar));
    enc.set_bit_rate(bitrate as usize);
    enc.set_time_base((1, 48_000));
    if global_header {
        enc.set_flags(codec::Flags::GLOBAL_HEADER);
    }
    enc.open_as(aac).map_err(encoder_error("aac"))
}
