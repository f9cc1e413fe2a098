//! Which segments each playback session was sent, without a database round
//! trip on the segment route.
//!
//! The segment route calls [`DeliveryLog::record`]: a lock, a set insert, no
//! I/O. A background task writes what accumulated to `playback_deliveries`
//! every [`FLUSH_INTERVAL`] (and once more at shutdown), and a heartbeat
//! first writes its own session's entries ([`DeliveryLog::flush_session`]),
//! so a heartbeat that reaches the node that served the segments always sees
//! them. On another node it sees what was flushed, at most a second old;
//! players fetch segments well ahead of the playhead, so the segments of a
//! range being reported were sent seconds before.
//!
//! The bound: [`CAPACITY`] distinct `(session, rung, segment)` entries wait
//! at most (about 10 MB). Past it, or when the database refuses a batch,
//! entries are dropped and counted (`sealcast_progress_deliveries_dropped_total`):
//! a learner may then be credited less, never more than was sent.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::db::Db;

/// How often buffered deliveries are written.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// Distinct entries buffered at most between flushes.
pub const CAPACITY: usize = 65_536;
/// Rows per transaction when flushing.
const BATCH: usize = 256;

/// One segment sent whole to one session.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Delivery {
    pub session_id: String,
    pub rung: String,
    pub segment: String,
}

/// This process's deliveries not yet in the database.
#[derive(Debug, Default)]
pub struct DeliveryLog {
    pending: Mutex<HashSet<Delivery>>,
}

impl DeliveryLog {
    /// Notes that `segment` of `rung` was sent to `session_id` (the hot path).
    pub fn record(&self, session_id: &str, rung: &str, segment: &str) {
        let entry = Delivery {
            session_id: session_id.to_string(),
            rung: rung.to_string(),
            segment: segment.to_string(),
        };
        let mut pending = self.pending.lock().expect("delivery log lock");
        if pending.len() >= CAPACITY && !pending.contains(&entry) {
            drop(pending);
            metrics::counter!("sealcast_progress_deliveries_dropped_total").increment(1);
            return;
        }
        pending.insert(entry);
    }

    /// Entries buffered now (not yet written to the database).
    pub fn pending_len(&self) -> usize {
        self.pending.lock().expect("delivery log lock").len()
    }

    fn take(&self, session_id: Option<&str>) -> Vec<Delivery> {
        let mut pending = self.pending.lock().expect("delivery log lock");
        match session_id {
            None => pending.drain().collect(),
            Some(id) => {
                let mine: Vec<Delivery> = pending
                    .iter()
                    .filter(|d| d.session_id == id)
                    .cloned()
                    .collect();
                for d in &mine {
                    pending.remove(d);
                }
                mine
            }
        }
    }

    /// Writes one session's buffered entries (before its heartbeat is credited).
    pub async fn flush_session(&self, db: &Db, session_id: &str) -> Result<(), sqlx::Error> {
        write(db, self.take(Some(session_id))).await
    }

    /// Writes everything buffered.
    pub async fn flush(&self, db: &Db) -> Result<(), sqlx::Error> {
        write(db, self.take(None)).await
    }

    /// Flushes every [`FLUSH_INTERVAL`] until `stop`, then once more.
    pub fn spawn(self: Arc<Self>, db: Db, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(FLUSH_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.cancelled() => break,
                }
                if let Err(e) = self.flush(&db).await {
                    tracing::warn!(error = %e, "cannot write segment deliveries; dropped");
                }
            }
            if let Err(e) = self.flush(&db).await {
                tracing::warn!(error = %e, "cannot write segment deliveries at shutdown");
            }
        })
    }
}

/// Inserts in batches; a session deleted meanwhile is skipped, a duplicate
/// ignored. A failed batch is dropped (and counted), never retried forever.
async fn write(db: &Db, entries: Vec<Delivery>) -> Result<(), sqlx::Error> {
    let mut result = Ok(());
    for batch in entries.chunks(BATCH) {
        if let Err(e) = write_batch(db, batch).await {
            metrics::counter!("sealcast_progress_deliveries_dropped_total")
                .increment(batch.len() as u64);
            result = Err(e);
        }
    }
    result
}

async fn write_batch(db: &Db, batch: &[Delivery]) -> Result<(), sqlx::Error> {
    let mut tx = db.pool.begin().await?;
    for d in batch {
        sqlx::query(
            "INSERT INTO playback_deliveries (session_id, rung, segment) \
             SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM playback_sessions WHERE id = $1) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&d.session_id)
        .bind(&d.rung)
        .bind(&d.segment)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// Every `(rung, segment)` recorded for a session.
pub async fn of_session(db: &Db, session_id: &str) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT rung, segment FROM playback_deliveries WHERE session_id = $1")
        .bind(session_id)
        .fetch_all(&db.pool)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buffer_is_bounded_and_per_session() {
        let log = DeliveryLog::default();
        for i in 0..CAPACITY + 10 {
            log.record("s1", "240p", &format!("seg_{i}.ts"));
        }
        // A repeat of a held entry is no new entry.
        log.record("s1", "240p", "seg_0.ts");
        assert_eq!(log.pending.lock().unwrap().len(), CAPACITY);
        log.pending.lock().unwrap().clear();
        log.record("s1", "240p", "a.ts");
        log.record("s2", "240p", "a.ts");
        log.record("s1", "240p", "a.ts");
        let mine = log.take(Some("s1"));
        assert_eq!(mine.len(), 1);
        assert_eq!(log.take(None).len(), 1);
    }
}
