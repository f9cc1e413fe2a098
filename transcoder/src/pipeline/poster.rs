//! Choosing the poster: the frame at 10% of the duration (at least half of
//! the first 2 s, past fades from black), or the first frame when the video
//! is shorter, as an upright JPEG.

use std::sync::Arc;

use ff::frame;
use ffmpeg_next as ff;

use crate::error::TranscodeError;
use crate::frames::encode_poster;

pub(super) struct PosterPicker {
    /// Seconds into the video.
    at: f64,
    rotation: u32,
    display: (u32, u32),
    jpeg: Option<Vec<u8>>,
    /// Kept until the poster is made, in case no frame reaches `at`.
    first: Option<Arc<frame::Video>>,
}

impl PosterPicker {
    /// `duration_hint`: from the headers, 0 if unknown (then 1 s in).
    pub(super) fn new(duration_hint: f64, rotation: u32, display: (u32, u32)) -> Self {
        let at = if duration_hint > 0.0 {
            (duration_hint * 0.1).max(duration_hint.min(2.0) * 0.5)
        } else {
            1.0
        };
        PosterPicker {
            at,
            rotation,
            display,
            jpeg: None,
            first: None,
        }
    }

    /// Consider a decoded frame `t` seconds into the video.
    pub(super) fn offer(
        &mut self,
        frame: &Arc<frame::Video>,
        t: f64,
    ) -> Result<(), TranscodeError> {
        if self.jpeg.is_some() {
            return Ok(());
        }
        if self.first.is_none() {
            self.first = Some(frame.clone());
        }
        if t >= self.at {
            self.jpeg = Some(self.encode(frame)?);
            self.first = None;
        }
        Ok(())
    }

    /// The poster, if there was any frame at all.
    pub(super) fn finish(self) -> Result<Option<Vec<u8>>, TranscodeError> {
        match (&self.jpeg, &self.first) {
            (None, Some(first)) => Ok(Some(self.encode(first)?)),
            _ => Ok(self.jpeg),
        }
    }

    fn encode(&self, frame: &frame::Video) -> Result<Vec<u8>, TranscodeError> {
        encode_poster(frame, self.rotation, self.display.0, self.display.1)
    }
}
