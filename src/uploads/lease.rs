//! The write lease of an upload: one request at a time appends, even across
//! nodes, and a writer that died blocks its upload for one lease at most.

use std::time::Duration;

use super::state;
use super::UploadError;
use crate::db::{new_id, now_ms, Db};

/// Renewed every third of it while a PATCH streams.
pub const LEASE: Duration = Duration::from_secs(20);

/// A held lease; renewal stops when it is dropped (a request cancelled
/// mid-body must not keep its upload locked).
#[derive(Debug)]
pub struct Lease {
    db: Db,
    video_id: String,
    pub holder: String,
    renewal: Option<tokio::task::JoinHandle<()>>,
}

impl Lease {
    /// Takes the lease for `length`, or `Locked` when someone else holds it.
    pub async fn take(
        db: &Db,
        video_id: &str,
        holder: String,
        length: Duration,
    ) -> Result<Lease, UploadError> {
        if !state::try_lock(db, video_id, &holder, length).await? {
            return Err(UploadError::Locked);
        }
        Ok(Lease {
            db: db.clone(),
            video_id: video_id.to_string(),
            holder,
            renewal: None,
        })
    }

    /// Takes the upload lease for a request (see [`LEASE`]).
    pub async fn for_request(db: &Db, video_id: &str) -> Result<Lease, UploadError> {
        Self::take(db, video_id, new_id(), LEASE).await
    }

    /// Keeps the lease alive while a long write runs.
    pub fn renew_while_held(mut self) -> Self {
        let (db, id, holder) = (self.db.clone(), self.video_id.clone(), self.holder.clone());
        self.renewal = Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(LEASE / 3);
            tick.tick().await;
            loop {
                tick.tick().await;
                let _ = state::extend_lock(&db, &id, &holder, now_ms() + LEASE.as_millis() as i64)
                    .await;
            }
        }));
        self
    }

    /// Gives the lease back.
    pub async fn release(mut self) {
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
        }
        state::unlock(&self.db, &self.video_id, &self.holder).await;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
        }
    }
}
