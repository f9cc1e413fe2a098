//! The sink's side while the rungs run, on the calling thread: content
//! keys (a fresh one every `rotate_every` segments, so one leaked key
//! exposes little, shared by all rungs), encryption of each finished
//! segment with its key and its own random IV, storage, and a tally of what
//! every rung produced.

use crate::crypto::{encrypt_segment, ContentKey, SegmentIv};
use crate::error::TranscodeError;
use crate::ladder::Rendition;
use crate::playlist::segment_path;
use crate::rung::Event;
use crate::sink::OutputSink;

pub(super) struct Sealer<'s> {
    sink: &'s mut dyn OutputSink,
    names: Vec<String>,
    /// Each key with the URI the sink gave it, in order of use.
    keys: Vec<(ContentKey, String)>,
    rotate_every: usize,
    /// Each segment as sealed, per rung.
    sealed: Vec<Vec<Option<Sealed>>>,
    /// Per rung, once finished: its codec string and segment count.
    done: Vec<Option<(String, usize)>>,
}

impl<'s> Sealer<'s> {
    pub(super) fn new(
        sink: &'s mut dyn OutputSink,
        renditions: &[Rendition],
        rotate_every: u32,
    ) -> Self {
        Sealer {
            sink,
            names: renditions.iter().map(|r| r.name.clone()).collect(),
            keys: Vec::new(),
            rotate_every: rotate_every as usize,
            sealed: vec![Vec::new(); renditions.len()],
            done: vec![None; renditions.len()],
        }
    }

    /// Segment `index` starts now, on every rung. The first segment of each
    /// key period gets a new key, stored before any segment uses it.
    pub(super) fn segment_started(&mut self, index: usize) -> Result<(), TranscodeError> {
        if index % self.rotate_every == 0 {
            let key = ContentKey::generate();
            let uri = self.sink.content_key(&key)?;
            self.keys.push((key, uri));
        }
        Ok(())
    }

    /// One result from a rung; a rung's failure becomes the job's error.
    pub(super) fn handle(&mut self, ev: Event) -> Result<(), TranscodeError> {
        match ev {
            Event::Segment { rung, index, bytes } => self.seal(rung, index, bytes),
            Event::Done {
                rung,
                codecs,
                segments,
            } => {
                self.done[rung] = Some((codecs, segments));
                Ok(())
            }
            Event::Failed { error } => Err(error),
        }
    }

    /// Every rung finished with `count` segments: cut anywhere else, the
    /// rungs would not line up.
    pub(super) fn check_complete(&self, count: usize) -> Result<(), TranscodeError> {
        for (i, d) in self.done.iter().enumerate() {
            match d {
                Some((_, segs)) if *segs == count => {}
                other => {
                    return Err(TranscodeError::Encoder(format!(
                        "rung {} produced {:?} segments, expected {count}",
                        self.names[i],
                        other.as_ref().map(|o| o.1)
                    )))
                }
            }
        }
        Ok(())
    }

    pub(super) fn sink(&mut self) -> &mut dyn OutputSink {
        &mut *self.sink
    }

    /// In order of use: key `k` serves segments `k * rotate_every..`.
    pub(super) fn key_uris(&self) -> Vec<String> {
        self.keys.iter().map(|(_, u)| u.clone()).collect()
    }

    pub(super) fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// Encrypted size of each segment of `rung` (0 where one never came).
    pub(super) fn segment_sizes(&self, rung: usize) -> Vec<usize> {
        self.sealed[rung]
            .iter()
            .map(|s| s.map_or(0, |s| s.size))
            .collect()
    }

    /// The IV of each of the first `count` segments of `rung`, for its
    /// playlist; a segment that never came is an error, not a guessed IV.
    pub(super) fn segment_ivs(
        &self,
        rung: usize,
        count: usize,
    ) -> Result<Vec<SegmentIv>, TranscodeError> {
        (0..count)
            .map(|index| {
                self.sealed[rung]
                    .get(index)
                    .copied()
                    .flatten()
                    .map(|s| s.iv)
                    .ok_or_else(|| {
                        TranscodeError::Encoder(format!(
                            "rung {} never sealed segment {index}",
                            self.names[rung]
                        ))
                    })
            })
            .collect()
    }

    /// The rung's RFC 6381 video codec, once it is done.
    pub(super) fn video_codec(&self, rung: usize) -> String {
        self.done[rung]
            .as_ref()
            .map(|d| d.0.clone())
            .unwrap_or_default()
    }

    fn seal(&mut self, rung: usize, index: usize, bytes: Vec<u8>) -> Result<(), TranscodeError> {
        let (key, _) = self
            .keys
            .get(index / self.rotate_every)
            .ok_or_else(|| TranscodeError::Encoder(format!("segment {index} has no key")))?;
        let iv = SegmentIv::generate();
        let enc = encrypt_segment(&key.key, &iv.0, bytes);
        self.sink
            .put(&segment_path(&self.names[rung], index), &enc)?;
        let sealed = &mut self.sealed[rung];
        if sealed.len() <= index {
            sealed.resize(index + 1, None);
        }
        sealed[index] = Some(Sealed {
            iv,
            size: enc.len(),
        });
        Ok(())
    }
}

/// What the playlist and the report need of one stored segment.
#[derive(Clone, Copy)]
struct Sealed {
    iv: SegmentIv,
    size: usize,
}
