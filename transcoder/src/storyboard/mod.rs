//! Seek previews: thumbnails of the video tiled into JPEG sprite sheets,
//! and a WebVTT track (`storyboard/storyboard.vtt`) whose cues name a tile
//! as `sprite_000.jpg#xywh=x,y,w,h` for each interval of the video.
//!
//! [`Storyboard`] is offered every frame the decode loop already has and
//! scales only the one it keeps per interval (see
//! [`layout::interval_seconds`]), so it costs the transcode a few small
//! scales a minute. Memory stays bounded: one sheet at a time is filled,
//! and sent to the sink as soon as it is full.

mod layout;
mod sheet;

use ff::format::Pixel;
use ff::frame;
use ff::software::scaling;
use ffmpeg_next as ff;

use crate::error::{encoder_error, TranscodeError};
use crate::frames::rotate;
use crate::ladder::rotated_size;
use crate::sink::OutputSink;
use sheet::Sheet;

pub use layout::VTT_PATH;

/// Builds one video's storyboard from the frames it is offered.
pub(crate) struct Storyboard {
    interval: f64,
    rotation: u32,
    tile: (u32, u32),
    /// Slot start (seconds) of every thumbnail taken so far.
    starts: Vec<f64>,
    /// The next thumbnail is taken from the first frame at or after this.
    next_at: f64,
    sheet: Sheet,
    /// Reused while the decoded frames keep their format and size.
    scaler: Option<(Pixel, u32, u32, scaling::Context)>,
}

impl Storyboard {
    /// `duration_hint`: seconds from the headers (0 if unknown); `display`:
    /// the upright picture size; `rotation`: the clockwise turn that makes
    /// a decoded frame upright.
    pub(crate) fn new(duration_hint: f64, rotation: u32, display: (u32, u32)) -> Self {
        let tile = layout::tile_size(display.0, display.1);
        Storyboard {
            interval: f64::from(layout::interval_seconds(duration_hint)),
            rotation,
            tile,
            starts: Vec::new(),
            next_at: 0.0,
            sheet: Sheet::new(tile),
            scaler: None,
        }
    }

    /// Consider a decoded frame `t` seconds into the video; a full sheet
    /// goes to `sink` at once.
    pub(crate) fn offer(
        &mut self,
        frame: &frame::Video,
        t: f64,
        sink: &mut dyn OutputSink,
    ) -> Result<(), TranscodeError> {
        if t < self.next_at {
            return Ok(());
        }
        // A gap longer than the interval (VFR, a still) gives one tile whose
        // cue spans the gap, not repeated tiles.
        let slot = (t.max(0.0) / self.interval).floor();
        self.next_at = (slot + 1.0) * self.interval;
        let index = self.starts.len();
        self.starts.push(slot * self.interval);
        let tile = self.scale(frame)?;
        let place = layout::place(index, self.tile);
        if place.slot == 0 && index > 0 {
            self.flush_sheet(place.sheet - 1, sink)?;
        }
        self.sheet.draw(&tile, place);
        Ok(())
    }

    /// Sends the last sheet and then the VTT for a video of `duration`
    /// seconds; nothing when no frame was offered.
    pub(crate) fn finish(
        mut self,
        duration: f64,
        sink: &mut dyn OutputSink,
    ) -> Result<Option<StoryboardSummary>, TranscodeError> {
        let Some(last) = self.starts.len().checked_sub(1) else {
            return Ok(None);
        };
        self.flush_sheet(layout::place(last, self.tile).sheet, sink)?;
        let text = layout::vtt(&self.starts, duration, self.tile);
        sink.put(VTT_PATH, text.as_bytes())?;
        Ok(Some(StoryboardSummary {
            thumbnails: self.starts.len(),
            sheets: layout::place(last, self.tile).sheet + 1,
            interval_seconds: self.interval,
            tile_width: self.tile.0,
            tile_height: self.tile.1,
        }))
    }

    fn flush_sheet(
        &mut self,
        index: usize,
        sink: &mut dyn OutputSink,
    ) -> Result<(), TranscodeError> {
        let jpeg = self.sheet.encode()?;
        sink.put(&layout::sheet_path(index), &jpeg)?;
        Ok(())
    }

    /// The frame as an upright tile in the sheet's pixel format.
    fn scale(&mut self, src: &frame::Video) -> Result<frame::Video, TranscodeError> {
        let enc_err = encoder_error("storyboard");
        let (pw, ph) = rotated_size(self.tile.0, self.tile.1, self.rotation);
        let key = (src.format(), src.width(), src.height());
        if self
            .scaler
            .as_ref()
            .is_none_or(|(f, w, h, _)| (*f, *w, *h) != key)
        {
            let ctx = scaling::Context::get(
                key.0,
                key.1,
                key.2,
                Pixel::YUVJ420P,
                pw,
                ph,
                scaling::Flags::BILINEAR,
            )
            .map_err(&enc_err)?;
            self.scaler = Some((key.0, key.1, key.2, ctx));
        }
        let (_, _, _, sws) = self.scaler.as_mut().expect("just set");
        let mut scaled = frame::Video::empty();
        sws.run(src, &mut scaled).map_err(&enc_err)?;
        Ok(if self.rotation == 0 {
            scaled
        } else {
            rotate(&scaled, self.rotation)
        })
    }
}

/// What a storyboard run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct StoryboardSummary {
    /// Tiles over all sheets (one per cue).
    pub thumbnails: usize,
    /// Sprite sheets written (`sprite_000.jpg`, …).
    pub sheets: usize,
    /// Seconds between thumbnails.
    pub interval_seconds: f64,
    /// Tile size in pixels.
    pub tile_width: u32,
    /// Tile height in pixels (even).
    pub tile_height: u32,
}
