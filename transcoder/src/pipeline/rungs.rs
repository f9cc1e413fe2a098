//! The rung threads as the decoding thread sees them: a bounded channel to
//! each (a slow encoder slows the decoder down instead of filling memory),
//! the cascade between them, and the one channel their results come back on.

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::{Scope, ScopedJoinHandle};
use std::time::Duration;

use ff::{codec, Packet, Rational};
use ffmpeg_next as ff;

use super::plan::Plan;
use super::sealer::Sealer;
use crate::error::TranscodeError;
use crate::ladder::Rendition;
use crate::rung::{self, Event, Job, RungSpec};
use crate::TranscodeOptions;

pub(super) struct Rungs<'scope> {
    /// Every rung, tallest first: all take the audio, the copied top rung
    /// takes source packets.
    all: Vec<SyncSender<Job>>,
    /// The rungs that scale from the decoder's pictures; the others get
    /// them from a larger rung (or copy the source).
    from_decoder: Vec<SyncSender<Job>>,
    events: Receiver<Event>,
    threads: Vec<ScopedJoinHandle<'scope, ()>>,
}

/// For each rung, the larger rung it scales from, if any: a rung at most
/// 2/3 the height of the next larger encoded rung scales from that rung's
/// picture (cheaper than from the full source frame; the ratio limit keeps
/// repeated filtering mild).
fn cascade(renditions: &[Rendition], copied: bool) -> Vec<Option<usize>> {
    (0..renditions.len())
        .map(|i| {
            (i > 0
                && !(i == 1 && copied)
                && renditions[i - 1].height * 2 >= renditions[i].height * 3)
                .then(|| i - 1)
        })
        .collect()
}

impl<'scope> Rungs<'scope> {
    /// Start one thread per rung in `scope`.
    pub(super) fn spawn(
        scope: &'scope Scope<'scope, '_>,
        plan: &Plan,
        opts: &TranscodeOptions,
        audio: Option<(codec::Parameters, Rational)>,
    ) -> Result<Self, TranscodeError> {
        let renditions = &plan.renditions;
        let copied = plan.copy.is_some();
        let (all, rxs): (Vec<SyncSender<Job>>, Vec<_>) = renditions
            .iter()
            .map(|_| mpsc::sync_channel::<Job>(opts.queue_frames))
            .unzip();
        let parent = cascade(renditions, copied);
        let from_decoder = (0..renditions.len())
            .filter(|&i| parent[i].is_none() && !(i == 0 && copied))
            .map(|i| all[i].clone())
            .collect();
        let (event_tx, events) = mpsc::channel::<Event>();
        let mut threads = Vec::new();
        for ((i, r), rx) in renditions.iter().enumerate().zip(rxs) {
            let child =
                (i + 1 < renditions.len() && parent[i + 1] == Some(i)).then(|| all[i + 1].clone());
            let spec = RungSpec {
                index: i,
                rendition: r.clone(),
                rotation: plan.rotation,
                time_base: plan.time_base,
                frame_rate: plan.frame_rate,
                preset: opts.preset.clone(),
                keyint: plan.keyint,
                audio: audio.clone(),
                copy: if i == 0 { plan.copy.clone() } else { None },
                child,
            };
            let tx = event_tx.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("sealcast-rung-{}", r.name))
                    .spawn_scoped(scope, move || rung::run(spec, rx, tx))
                    .map_err(TranscodeError::Io)?,
            );
        }
        Ok(Rungs {
            all,
            from_decoder,
            events,
            threads,
        })
    }

    /// A decoded picture, to the rungs that scale from the source.
    pub(super) fn send_video(
        &self,
        job: impl Fn() -> Job,
        sealer: &mut Sealer<'_>,
    ) -> Result<(), TranscodeError> {
        self.broadcast(&self.from_decoder, job, sealer)
    }

    /// A source packet, to the copied top rung.
    pub(super) fn send_copy(
        &self,
        job: impl Fn() -> Job,
        sealer: &mut Sealer<'_>,
    ) -> Result<(), TranscodeError> {
        self.broadcast(&self.all[..1], job, sealer)
    }

    /// Finished AAC packets (drained from `packets`), to every rung.
    pub(super) fn send_audio(
        &self,
        packets: &mut Vec<Packet>,
        sealer: &mut Sealer<'_>,
    ) -> Result<(), TranscodeError> {
        for p in packets.drain(..) {
            let p = Arc::new(p);
            self.broadcast(&self.all, || Job::Audio(p.clone()), sealer)?;
        }
        Ok(())
    }

    /// Handle what the rungs have reported so far, without waiting, so
    /// segments are stored while the decode goes on.
    pub(super) fn collect(&self, sealer: &mut Sealer<'_>) -> Result<(), TranscodeError> {
        while let Ok(ev) = self.events.try_recv() {
            sealer.handle(ev)?;
        }
        Ok(())
    }

    /// Close the channels (the rungs flush and finish), handle their last
    /// results and wait for the threads. An error from the decode wins over
    /// one from a rung.
    pub(super) fn finish<T>(
        self,
        sealer: &mut Sealer<'_>,
        decoded: Result<T, TranscodeError>,
    ) -> Result<T, TranscodeError> {
        let Rungs {
            all,
            from_decoder,
            events,
            threads,
        } = self;
        drop(all);
        drop(from_decoder);
        let mut rung_err = None;
        if decoded.is_ok() {
            for ev in events.iter() {
                if let Err(e) = sealer.handle(ev) {
                    rung_err = Some(e);
                    break;
                }
            }
        }
        drop(events);
        for h in threads {
            if h.join().is_err() && rung_err.is_none() && decoded.is_ok() {
                rung_err = Some(TranscodeError::Encoder(
                    "a rung encoder thread panicked".into(),
                ));
            }
        }
        match (decoded, rung_err) {
            (Err(e), _) => Err(e),
            (Ok(_), Some(e)) => Err(e),
            (Ok(v), None) => Ok(v),
        }
    }

    /// Send to each of `txs`; if one has gone away, surface the error it
    /// reported.
    fn broadcast(
        &self,
        txs: &[SyncSender<Job>],
        job: impl Fn() -> Job,
        sealer: &mut Sealer<'_>,
    ) -> Result<(), TranscodeError> {
        for tx in txs {
            if tx.send(job()).is_err() {
                // The rung exited early: its Failed event explains why.
                // (A panicked rung sends nothing, hence the timeout.)
                while let Ok(ev) = self.events.recv_timeout(Duration::from_secs(5)) {
                    sealer.handle(ev)?;
                }
                return Err(TranscodeError::Encoder(
                    "a rung encoder stopped unexpectedly".into(),
                ));
            }
        }
        Ok(())
    }
}
