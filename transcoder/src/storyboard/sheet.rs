//! One sprite sheet being filled: a full-range 4:2:0 picture large enough
//! for `COLUMNS × ROWS` tiles, reused for every sheet of a video, and
//! cropped to the tiles it holds when it is encoded.

use ff::format::Pixel;
use ff::frame;
use ffmpeg_next as ff;

use super::layout::{sheet_size, Place, COLUMNS, ROWS};
use crate::error::TranscodeError;
use crate::frames::encode_jpeg;

/// JPEG quantiser ceiling for sheets: thumbnails a player scales down
/// anyway need less than the poster's.
const SHEET_QMAX: i32 = 8;

pub(super) struct Sheet {
    tile: (u32, u32),
    picture: frame::Video,
    /// Tiles drawn since the last encode.
    tiles: u32,
}

impl Sheet {
    pub(super) fn new(tile: (u32, u32)) -> Self {
        let mut picture = frame::Video::new(Pixel::YUVJ420P, COLUMNS * tile.0, ROWS * tile.1);
        clear(&mut picture);
        Sheet {
            tile,
            picture,
            tiles: 0,
        }
    }

    /// Copies an upright tile (the tile size, YUVJ420P) to its place.
    pub(super) fn draw(&mut self, tile: &frame::Video, place: Place) {
        let (tw, th) = self.tile;
        for plane in 0..3 {
            let (w, h, x, y) = if plane == 0 {
                (tw, th, place.x, place.y)
            } else {
                (tw / 2, th / 2, place.x / 2, place.y / 2)
            };
            let (w, h, x, y) = (w as usize, h as usize, x as usize, y as usize);
            let (ss, ds) = (tile.stride(plane), self.picture.stride(plane));
            let src = tile.data(plane);
            let dst = self.picture.data_mut(plane);
            for r in 0..h {
                let from = &src[r * ss..r * ss + w];
                dst[(y + r) * ds + x..(y + r) * ds + x + w].copy_from_slice(from);
            }
        }
        self.tiles = self.tiles.max(place.slot + 1);
    }

    /// The tiles drawn so far as a JPEG exactly their bounding box; the
    /// sheet is blank again afterwards.
    pub(super) fn encode(&mut self) -> Result<Vec<u8>, TranscodeError> {
        let (w, h) = sheet_size(self.tiles, self.tile);
        let mut out = frame::Video::new(Pixel::YUVJ420P, w, h);
        for plane in 0..3 {
            let (pw, ph) = if plane == 0 {
                (w as usize, h as usize)
            } else {
                (w as usize / 2, h as usize / 2)
            };
            let (ss, ds) = (self.picture.stride(plane), out.stride(plane));
            let src = self.picture.data(plane);
            let dst = out.data_mut(plane);
            for r in 0..ph {
                dst[r * ds..r * ds + pw].copy_from_slice(&src[r * ss..r * ss + pw]);
            }
        }
        clear(&mut self.picture);
        self.tiles = 0;
        encode_jpeg(&mut out, "storyboard", SHEET_QMAX)
    }
}

/// Black in full range: Y 0, chroma neutral.
fn clear(picture: &mut frame::Video) {
    picture.data_mut(0).fill(0);
    picture.data_mut(1).fill(128);
    picture.data_mut(2).fill(128);
}
