//! Read stream header fields without opening a decoder.
//!
//! ffmpeg-next only exposes width/height/pixel format through an *opened*
//! decoder, and opening one is exactly what must not happen before the size
//! limits are checked (a decoder for a 16384x16384 header may allocate
//! hundreds of MB, or fail with an unhelpful message). So this one module
//! reads the plain-data fields of `AVCodecParameters` directly.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::path::Path;
use std::ptr;

use ff::ffi;
use ffmpeg_next as ff;

/// Plain header fields of a stream.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawParams {
    pub width: i32,
    pub height: i32,
    pub sar: (i32, i32),
    pub channels: i32,
    pub sample_rate: i32,
}

pub(crate) fn read(par: &ff::codec::Parameters) -> RawParams {
    // SAFETY: `as_ptr` returns the parameters' own non-null
    // `AVCodecParameters` pointer, valid for the lifetime of `par`, which we
    // borrow for the duration of this function; we only read plain integer
    // fields (no pointers are followed or retained).
    unsafe {
        let p = &*par.as_ptr();
        RawParams {
            width: p.width,
            height: p.height,
            sar: (p.sample_aspect_ratio.num, p.sample_aspect_ratio.den),
            channels: p.ch_layout.nb_channels,
            sample_rate: p.sample_rate,
        }
    }
}

/// Picture sizes the container header declares for its video streams,
/// read with `avformat_open_input` alone — before
/// `avformat_find_stream_info`, which may open decoders and decode frames
/// (allocating full-size pictures) to fill in missing parameters. `None`
/// when the file cannot be opened (the normal open reports why).
pub(crate) fn header_video_sizes(path: &Path) -> Option<Vec<(i32, i32)>> {
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: `ctx` starts null as avformat_open_input requires; on failure
    // FFmpeg frees it and leaves it null, on success we only read
    // `nb_streams` stream pointers and their `codecpar` integer fields,
    // all owned by `ctx`, then release everything with
    // avformat_close_input before returning. No pointer escapes.
    unsafe {
        let mut ctx: *mut ffi::AVFormatContext = ptr::null_mut();
        if ffi::avformat_open_input(&mut ctx, c.as_ptr(), ptr::null_mut(), ptr::null_mut()) < 0 {
            return None;
        }
        let mut sizes = Vec::new();
        for i in 0..(*ctx).nb_streams as usize {
            let st = *(*ctx).streams.add(i);
            if st.is_null() || (*st).codecpar.is_null() {
                continue;
            }
            let par = &*(*st).codecpar;
            if par.codec_type == ffi::AVMediaType::AVMEDIA_TYPE_VIDEO {
                sizes.push((par.width, par.height));
            }
        }
        ffi::avformat_close_input(&mut ctx);
        Some(sizes)
    }
}

/// Copy of the codec extradata (e.g. the avcC box of H.264 in MP4).
pub(crate) fn extradata(par: &ff::codec::Parameters) -> Vec<u8> {
    // SAFETY: as in `read`; `extradata` is either null or points to
    // `extradata_size` bytes owned by the parameters, which we copy out.
    unsafe {
        let p = &*par.as_ptr();
        if p.extradata.is_null() || p.extradata_size <= 0 {
            return Vec::new();
        }
        std::slice::from_raw_parts(p.extradata, p.extradata_size as usize).to_vec()
    }
}
