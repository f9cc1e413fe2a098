//! The write lease of an upload: one request at a time appends, even across
//! nodes, and a writer that died blocks its upload for one lease at most.

use std::path::Path;
use std::time::Duration;

use super::state;
use super::UploadError;
use crate::db::{new_id, now_ms, Db};

/// Whose leases these are: this node, named by a file in its data dir so the
/// name survives a restart, and this life of the process. A lease still held
/// by an earlier life of the same node belonged to a process that is gone
/// (it crashed or was killed mid-PATCH), so it is taken back at once rather
/// than leaving the client with `423` until it runs out.
#[derive(Debug, Clone)]
pub struct LeaseOwner {
    node: String,
    life: String,
}

impl LeaseOwner {
    /// Reads `<data dir>/node-id`, creating it (0600) on first start.
    pub fn load(data_dir: &Path) -> std::io::Result<LeaseOwner> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = data_dir.join("node-id");
        let valid = |s: &str| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit());
        if let Ok(text) = std::fs::read_to_string(&path) {
            if valid(text.trim()) {
                return Ok(Self::of_node(text.trim().to_string()));
            }
        }
        let node = new_id();
        let tmp = data_dir.join(format!(".node-id.{}", new_id()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(node.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        Ok(Self::of_node(node))
    }

    fn of_node(node: String) -> LeaseOwner {
        LeaseOwner {
            node,
            life: new_id(),
        }
    }

    /// A fresh holder name for one request of this life.
    fn holder(&self) -> String {
        format!("{}.{}.{}", self.node, self.life, new_id())
    }
}

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
        owner: &LeaseOwner,
        length: Duration,
    ) -> Result<Lease, UploadError> {
        let holder = owner.holder();
        let past_lives = state::PastLives {
            node: &format!("{}.%", owner.node),
            life: &format!("{}.{}.%", owner.node, owner.life),
        };
        if !state::try_lock(db, video_id, &holder, length, past_lives).await? {
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
    pub async fn for_request(
        db: &Db,
        video_id: &str,
        owner: &LeaseOwner,
    ) -> Result<Lease, UploadError> {
        Self::take(db, video_id, owner, LEASE).await
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
