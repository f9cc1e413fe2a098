//! The storyboard's arithmetic, with no FFmpeg in it: how often a
//! thumbnail is taken, how large a tile is, where it sits on which sheet,
//! and the WebVTT text that tells a player all of it.

use std::fmt::Write;

/// Tile width in pixels: big enough to recognise a slide or a face over a
/// seek bar, small enough that a 10×10 sheet stays a few hundred kB.
pub(crate) const TILE_WIDTH: u32 = 160;
/// Tiles per sheet row.
pub(crate) const COLUMNS: u32 = 10;
/// Tile rows per sheet; a full sheet holds `COLUMNS * ROWS` thumbnails.
pub(crate) const ROWS: u32 = 10;
/// Where the storyboard sits among a video's outputs.
pub(crate) const DIR: &str = "storyboard";
/// The WebVTT thumbnails track among a video's outputs, written after
/// every sheet: its presence means the storyboard is complete.
pub const VTT_PATH: &str = "storyboard/storyboard.vtt";

/// Seconds between thumbnails for a video of `duration` seconds: about 60
/// thumbnails per video (`ceil(duration / 60)`), but never closer than
/// 2 s (short videos: every step of a hover shows a new picture) nor
/// further apart than 10 s (long videos: bounded sheets, still useful
/// when seeking). So 2 s below 2 min, 10 s from 9 min 1 s on. An unknown
/// duration (0) gets 10 s, which bounds the output whatever the length.
pub(crate) fn interval_seconds(duration: f64) -> u32 {
    if !(duration.is_finite() && duration > 0.0) {
        return 10;
    }
    (duration / 60.0).ceil().clamp(2.0, 10.0) as u32
}

/// A tile `TILE_WIDTH` wide with the picture's aspect ratio; the height is
/// even (4:2:0 chroma) and at least 2.
pub(crate) fn tile_size(display_w: u32, display_h: u32) -> (u32, u32) {
    let h = if display_w == 0 {
        TILE_WIDTH * 9 / 16
    } else {
        (f64::from(TILE_WIDTH) * f64::from(display_h) / f64::from(display_w)).round() as u32
    };
    (TILE_WIDTH, (h & !1).max(2))
}

/// Where thumbnail `index` (0-based, in time order) is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Place {
    pub sheet: usize,
    /// Position on its sheet, 0..COLUMNS*ROWS.
    pub slot: u32,
    pub x: u32,
    pub y: u32,
}

pub(crate) fn place(index: usize, tile: (u32, u32)) -> Place {
    let per_sheet = (COLUMNS * ROWS) as usize;
    let slot = (index % per_sheet) as u32;
    Place {
        sheet: index / per_sheet,
        slot,
        x: (slot % COLUMNS) * tile.0,
        y: (slot / COLUMNS) * tile.1,
    }
}

/// The pixel size of a sheet holding `tiles` thumbnails: as many columns as
/// it needs up to `COLUMNS`, as many rows as it needs; so the image is
/// exactly the bounding box of its tiles.
pub(crate) fn sheet_size(tiles: u32, tile: (u32, u32)) -> (u32, u32) {
    let cols = tiles.clamp(1, COLUMNS);
    let rows = tiles.div_ceil(COLUMNS).clamp(1, ROWS);
    (cols * tile.0, rows * tile.1)
}

/// `storyboard/sprite_000.jpg`, the path of sheet `sheet` among the outputs.
pub(crate) fn sheet_path(sheet: usize) -> String {
    format!("{DIR}/{}", sheet_name(sheet))
}

/// The sheet's name as the VTT (which sits beside it) refers to it.
pub(crate) fn sheet_name(sheet: usize) -> String {
    format!("sprite_{sheet:03}.jpg")
}

/// Each thumbnail's cue: from its slot start (`starts[i]`, seconds) to the
/// next one's, the last to `duration`, so the cues cover the video without
/// gaps or overlaps.
pub(crate) fn vtt(starts: &[f64], duration: f64, tile: (u32, u32)) -> String {
    let mut out = String::from("WEBVTT\n");
    let ends = starts.iter().skip(1).copied().chain([duration]);
    for (i, (&start, end)) in starts.iter().zip(ends).enumerate() {
        let p = place(i, tile);
        let end = end.max(start);
        let _ = write!(
            out,
            "\n{} --> {}\n{}#xywh={},{},{},{}\n",
            timestamp(start),
            timestamp(end),
            sheet_name(p.sheet),
            p.x,
            p.y,
            tile.0,
            tile.1
        );
    }
    out
}

/// `HH:MM:SS.mmm`, as WebVTT requires hours once past an hour and allows
/// them always.
fn timestamp(seconds: f64) -> String {
    let ms = (seconds.max(0.0) * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_is_two_seconds_short_and_ten_long() {
        assert_eq!(interval_seconds(5.0), 2);
        assert_eq!(interval_seconds(119.9), 2);
        assert_eq!(interval_seconds(120.0), 2);
        assert_eq!(interval_seconds(121.0), 3);
        assert_eq!(interval_seconds(300.0), 5);
        assert_eq!(interval_seconds(540.0), 9);
        assert_eq!(interval_seconds(541.0), 10);
        assert_eq!(interval_seconds(3.0 * 3600.0), 10);
        assert_eq!(interval_seconds(0.0), 10);
        assert_eq!(interval_seconds(f64::NAN), 10);
    }

    #[test]
    fn tiles_keep_the_aspect_with_an_even_height() {
        assert_eq!(tile_size(1920, 1080), (160, 90));
        assert_eq!(tile_size(640, 480), (160, 120));
        assert_eq!(tile_size(1080, 1920), (160, 284));
        // 160 * 241 / 321 = 120.1 -> 120; odd heights round down to even.
        assert_eq!(tile_size(321, 241), (160, 120));
        assert_eq!(tile_size(1000, 3), (160, 2));
    }

    #[test]
    fn tiles_fill_rows_then_sheets() {
        let t = (160, 90);
        assert_eq!(
            place(0, t),
            Place {
                sheet: 0,
                slot: 0,
                x: 0,
                y: 0
            }
        );
        assert_eq!(place(9, t).x, 9 * 160);
        assert_eq!((place(10, t).x, place(10, t).y), (0, 90));
        assert_eq!((place(99, t).x, place(99, t).y), (1440, 810));
        let next = place(100, t);
        assert_eq!((next.sheet, next.slot, next.x, next.y), (1, 0, 0, 0));
    }

    #[test]
    fn a_sheet_is_the_bounding_box_of_its_tiles() {
        let t = (160, 90);
        assert_eq!(sheet_size(1, t), (160, 90));
        assert_eq!(sheet_size(7, t), (1120, 90));
        assert_eq!(sheet_size(10, t), (1600, 90));
        assert_eq!(sheet_size(11, t), (1600, 180));
        assert_eq!(sheet_size(100, t), (1600, 900));
        for n in 1..=100u32 {
            let (w, h) = sheet_size(n, t);
            let last = place(n as usize - 1, t);
            assert!(last.x + t.0 <= w && last.y + t.1 <= h, "{n}");
        }
    }

    #[test]
    fn vtt_cues_cover_the_video_and_name_their_tile() {
        let text = vtt(&[0.0, 2.0, 4.0], 5.5, (160, 90));
        assert_eq!(
            text,
            "WEBVTT\n\
             \n00:00:00.000 --> 00:00:02.000\nsprite_000.jpg#xywh=0,0,160,90\n\
             \n00:00:02.000 --> 00:00:04.000\nsprite_000.jpg#xywh=160,0,160,90\n\
             \n00:00:04.000 --> 00:00:05.500\nsprite_000.jpg#xywh=320,0,160,90\n"
        );
    }

    #[test]
    fn vtt_names_later_sheets_and_hours() {
        let starts: Vec<f64> = (0..101).map(|i| f64::from(i) * 40.0).collect();
        let text = vtt(&starts, 4041.0, (160, 90));
        assert!(text.ends_with("\n01:06:40.000 --> 01:07:21.000\nsprite_001.jpg#xywh=0,0,160,90\n"));
        assert_eq!(text.matches("-->").count(), 101);
    }
}
