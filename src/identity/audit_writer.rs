//! Group commit for key-route audit records.
//!
//! Every key grant must be on record before the key leaves, so the key route
//! waits for its audit write. One write per request would make every request
//! pay a commit and, on SQLite, fight over the write lock. Instead one task
//! owns the writes: requests queue their record with a reply channel, the task
//! writes whatever has queued up in one transaction, and answers each request
//! only after the commit. Throughput scales with concurrency; latency is at
//! most one commit longer. A failed batch is retried record by record so one
//! bad record cannot deny its neighbours.

use std::net::IpAddr;

use tokio::sync::{mpsc, oneshot};

use super::audit::{record, record_batch, AuditRecord};
use crate::db::Db;

/// Largest batch written in one transaction.
const MAX_BATCH: usize = 256;
/// Records waiting for the writer; beyond this, callers wait (backpressure).
const QUEUE: usize = 4096;

/// An audit record that owns its strings, so it can cross to the writer task.
#[derive(Debug, Clone, Default)]
pub struct OwnedAuditRecord {
    pub action: &'static str,
    pub outcome: &'static str,
    pub reason: Option<&'static str>,
    pub actor_id: Option<String>,
    pub session_id: Option<String>,
    pub video_id: Option<String>,
    pub key_id: Option<String>,
    pub ip: Option<IpAddr>,
    pub pacing: bool,
    pub detail: Option<serde_json::Value>,
}

impl OwnedAuditRecord {
    fn as_record(&self) -> AuditRecord<'_> {
        AuditRecord {
            action: self.action,
            outcome: self.outcome,
            reason: self.reason,
            actor_id: self.actor_id.as_deref(),
            session_id: self.session_id.as_deref(),
            video_id: self.video_id.as_deref(),
            key_id: self.key_id.as_deref(),
            ip: self.ip,
            pacing: self.pacing,
            detail: self.detail.clone(),
        }
    }
}

type Job = (OwnedAuditRecord, oneshot::Sender<Result<(), String>>);

/// Handle to the writer task; cheap to clone.
#[derive(Debug, Clone)]
pub struct AuditWriter {
    queue: mpsc::Sender<Job>,
}

impl AuditWriter {
    /// Starts the writer task on the current runtime.
    pub fn spawn(db: Db) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(db, rx));
        Self { queue }
    }

    /// Writes `r` and returns once it is committed.
    pub async fn write(&self, r: OwnedAuditRecord) -> Result<(), String> {
        let (ack, done) = oneshot::channel();
        self.queue
            .send((r, ack))
            .await
            .map_err(|_| "audit writer stopped".to_string())?;
        done.await.map_err(|_| "audit writer stopped".to_string())?
    }
}

async fn run(db: Db, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let records: Vec<AuditRecord<'_>> = batch.iter().map(|(r, _)| r.as_record()).collect();
        if record_batch(&db, &records).await.is_ok() {
            drop(records);
            for (_, ack) in batch {
                let _ = ack.send(Ok(()));
            }
            continue;
        }
        drop(records);
        for (r, ack) in batch {
            let result = record(&db, &r.as_record()).await.map_err(|e| e.to_string());
            let _ = ack.send(result);
        }
    }
}
