//! RFC 6381 codec strings (`avc1.PPCCLL`) for the master playlist's
//! `CODECS=`. Players choose a variant by them, so they name the profile
//! and level actually in the stream, read from its SPS.

/// `avc1.PPCCLL` from profile_idc, the constraint flags and level_idc.
fn avc1(profile: u8, constraints: u8, level: u8) -> String {
    format!("avc1.{profile:02x}{constraints:02x}{level:02x}")
}

/// From the first SPS NAL unit found in an Annex-B H.264 access unit.
pub(crate) fn avc1_codecs_from_annexb(data: &[u8]) -> Option<String> {
    let mut i = 0;
    while i + 3 < data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            let nal = i + 3;
            if nal + 3 < data.len() && data[nal] & 0x1f == 7 {
                return Some(avc1(data[nal + 1], data[nal + 2], data[nal + 3]));
            }
            i = nal;
        } else {
            i += 1;
        }
    }
    None
}

/// From a stream's extradata: an avcC record (MP4, version 1 first, then
/// the SPS's three bytes), or else Annex-B parameter sets (MPEG-TS, raw).
pub(crate) fn avc1_codecs_from_extradata(extra: &[u8]) -> Option<String> {
    if extra.len() >= 4 && extra[0] == 1 {
        Some(avc1(extra[1], extra[2], extra[3]))
    } else {
        avc1_codecs_from_annexb(extra)
    }
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

    #[test]
    fn codecs_from_avcc_or_annexb_extradata() {
        let avcc = [1, 0x4d, 0x40, 0x1e, 0xff, 0xe1];
        assert_eq!(
            avc1_codecs_from_extradata(&avcc).as_deref(),
            Some("avc1.4d401e")
        );
        let annexb = [0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x0d, 0x8c];
        assert_eq!(
            avc1_codecs_from_extradata(&annexb).as_deref(),
            Some("avc1.42c00d")
        );
        assert_eq!(avc1_codecs_from_extradata(&[]), None);
    }
}
