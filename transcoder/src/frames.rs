//! Picture helpers: rotation of planar 4:2:0 frames, and JPEG encoding
//! (the poster, storyboard sheets).
//!
//! Rotation is done in safe Rust on the *scaled* picture (so it costs at most
//! one pass over each output rung's pixels) instead of through libavfilter's
//! `transpose`, which would need its own graph per rung and a deep copy of
//! every decoded frame.

use ff::format::Pixel;
use ff::frame;
use ff::software::scaling;
use ffmpeg_next as ff;

use crate::error::{encoder_error, TranscodeError};
use crate::ladder::rotated_size;

/// Rotate a planar 8-bit 4:2:0 frame clockwise by `rotation` (90/180/270).
/// Dimensions must be even. Returns a new frame; `rotation == 0` clones.
pub(crate) fn rotate(src: &frame::Video, rotation: u32) -> frame::Video {
    let (sw, sh) = (src.width() as usize, src.height() as usize);
    let (dw, dh) = match rotation {
        90 | 270 => (sh, sw),
        _ => (sw, sh),
    };
    let mut dst = frame::Video::new(src.format(), dw as u32, dh as u32);
    for plane in 0..3 {
        let (pw, ph, qw, qh) = if plane == 0 {
            (sw, sh, dw, dh)
        } else {
            (
                sw.div_ceil(2),
                sh.div_ceil(2),
                dw.div_ceil(2),
                dh.div_ceil(2),
            )
        };
        let ss = src.stride(plane);
        let ds = dst.stride(plane);
        let s = src.data(plane);
        let d = dst.data_mut(plane);
        for r in 0..qh {
            let row = &mut d[r * ds..r * ds + qw];
            match rotation {
                // dst[r][c] = src[ph-1-c][r]
                90 => {
                    for (c, px) in row.iter_mut().enumerate() {
                        *px = s[(ph - 1 - c) * ss + r];
                    }
                }
                // dst[r][c] = src[c][pw-1-r]
                270 => {
                    for (c, px) in row.iter_mut().enumerate() {
                        *px = s[c * ss + (pw - 1 - r)];
                    }
                }
                180 => {
                    let srow = &s[(ph - 1 - r) * ss..(ph - 1 - r) * ss + pw];
                    for (px, sp) in row.iter_mut().zip(srow.iter().rev()) {
                        *px = *sp;
                    }
                }
                _ => row.copy_from_slice(&s[r * ss..r * ss + pw]),
            }
        }
    }
    dst
}

/// Poster size: the display size capped at 640 px wide, even dimensions.
pub(crate) fn poster_size(display_w: u32, display_h: u32) -> (u32, u32) {
    let (w, h) = if display_w > 640 {
        let h = (640.0 * f64::from(display_h) / f64::from(display_w)).round() as u32;
        (640, h)
    } else {
        (display_w, display_h)
    };
    ((w & !1).max(2), (h & !1).max(2))
}

/// Encode one decoded frame as an upright JPEG at most 640 px wide.
pub(crate) fn encode_poster(
    src: &frame::Video,
    rotation: u32,
    display_w: u32,
    display_h: u32,
) -> Result<Vec<u8>, TranscodeError> {
    let enc_err = encoder_error("poster");
    let (w, h) = poster_size(display_w, display_h);
    let (pw, ph) = rotated_size(w, h, rotation);
    let mut sws = scaling::Context::get(
        src.format(),
        src.width(),
        src.height(),
        Pixel::YUVJ420P,
        pw,
        ph,
        scaling::Flags::BICUBIC,
    )
    .map_err(&enc_err)?;
    let mut scaled = frame::Video::empty();
    sws.run(src, &mut scaled).map_err(&enc_err)?;
    let mut pic = if rotation == 0 {
        scaled
    } else {
        rotate(&scaled, rotation)
    };
    encode_jpeg(&mut pic, "poster", 5)
}

/// One full-range 4:2:0 picture as a baseline JPEG (FFmpeg's MJPEG
/// encoder), quantiser between 2 and `qmax` (higher: smaller, blurrier).
pub(crate) fn encode_jpeg(
    pic: &mut frame::Video,
    what: &str,
    qmax: i32,
) -> Result<Vec<u8>, TranscodeError> {
    let enc_err = encoder_error(what);
    let (w, h) = (pic.width(), pic.height());
    pic.set_pts(Some(0));
    pic.set_kind(ff::picture::Type::None);

    let codec = ff::encoder::find(ff::codec::Id::MJPEG)
        .ok_or_else(|| TranscodeError::Encoder(format!("{what}: no MJPEG encoder")))?;
    let mut enc = ff::codec::context::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(&enc_err)?;
    enc.set_width(w);
    enc.set_height(h);
    enc.set_format(Pixel::YUVJ420P);
    enc.set_time_base((1, 25));
    enc.set_bit_rate((w * h * 25 * 2) as usize);
    enc.set_qmin(2);
    enc.set_qmax(qmax);
    let mut enc = enc.open_as(codec).map_err(&enc_err)?;
    enc.send_frame(pic).map_err(&enc_err)?;
    enc.send_eof().map_err(&enc_err)?;
    let mut pkt = ff::Packet::empty();
    enc.receive_packet(&mut pkt).map_err(&enc_err)?;
    Ok(pkt.data().unwrap_or_default().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(w: u32, h: u32) -> frame::Video {
        let mut f = frame::Video::new(Pixel::YUV420P, w, h);
        for p in 0..3 {
            let (pw, ph) = if p == 0 { (w, h) } else { (w / 2, h / 2) };
            let s = f.stride(p);
            let d = f.data_mut(p);
            for r in 0..ph as usize {
                for c in 0..pw as usize {
                    d[r * s + c] = (r * 16 + c) as u8;
                }
            }
        }
        f
    }

    #[test]
    fn rotate_90_moves_top_left_to_top_right() {
        let f = numbered(6, 4);
        let r = rotate(&f, 90);
        assert_eq!((r.width(), r.height()), (4, 6));
        // src (row 0, col 0) = 0 -> dst row 0, last col.
        assert_eq!(r.data(0)[3], 0);
        // src (row 3, col 0) = 48 -> dst (0,0).
        assert_eq!(r.data(0)[0], 48);
        let back = rotate(&rotate(&rotate(&r, 90), 90), 90);
        assert_eq!((back.width(), back.height()), (6, 4));
        for row in 0..4 {
            for c in 0..6 {
                assert_eq!(
                    back.data(0)[row * back.stride(0) + c],
                    f.data(0)[row * f.stride(0) + c]
                );
            }
        }
    }

    #[test]
    fn rotate_180_and_270() {
        let f = numbered(4, 2);
        let r = rotate(&f, 180);
        assert_eq!(r.data(0)[0], 16 + 3);
        let r = rotate(&f, 270);
        assert_eq!((r.width(), r.height()), (2, 4));
        // src (0, 3) -> dst (0, 0) for counter-clockwise.
        assert_eq!(r.data(0)[0], 3);
    }

    #[test]
    fn poster_is_capped() {
        assert_eq!(poster_size(1920, 1080), (640, 360));
        assert_eq!(poster_size(1080, 1920), (640, 1138));
        assert_eq!(poster_size(321, 241), (320, 240));
    }
}
