//! The revocation bus: how every node learns, within milliseconds, that
//! something was taken away (a session ended, a user disabled, an enrollment
//! removed, a video revoked or deleted), so it may cache what such a write
//! would change and still never act on a stale answer.
//!
//! A writer calls [`RevocationBus::announce`] after its write commits: one
//! counter in the database (`revocation_epoch`) goes up, PostgreSQL
//! `NOTIFY`s every listening node, and this process hears it at once. Each
//! node also polls the counter every [`POLL`], so a dropped `LISTEN`
//! connection (or SQLite files shared by several processes, which have no
//! notifications) costs at most one poll of latency, never blindness.
//!
//! The guarantee, and its failure mode: a cached answer is used only while
//! the epoch it was read under is still the newest this node knows **and**
//! the node has heard the database within [`STALE_AFTER`]. A node that
//! cannot reach the counter for longer stops trusting its caches (every
//! request reads the database, which is then most likely away too, so the
//! request fails 503 rather than succeeding on old state): fail closed.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::PgListener;
use tokio::sync::broadcast;

use super::{now_ms, Db, Dialect};

/// The PostgreSQL channel revocations are announced on.
pub const CHANNEL: &str = "sealcast_revocations";
/// How often every node reads the epoch, whatever the notifications do.
pub const POLL: Duration = Duration::from_millis(250);
/// Longer than this without hearing the database, caches are not trusted.
pub const STALE_AFTER: Duration = Duration::from_millis(1000);

/// This process's view of the revocation epoch. Cheap to clone.
#[derive(Clone, Debug)]
pub struct RevocationBus {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The newest epoch this node knows.
    epoch: AtomicI64,
    /// Milliseconds since `started` when the database last answered a poll
    /// (or sent a notification); `u64::MAX` before the first.
    heard_at: AtomicU64,
    started: Instant,
    changes: broadcast::Sender<i64>,
}

impl Default for RevocationBus {
    fn default() -> Self {
        Self {
            inner: Arc::new(Inner {
                epoch: AtomicI64::new(0),
                heard_at: AtomicU64::new(u64::MAX),
                started: Instant::now(),
                changes: broadcast::channel(64).0,
            }),
        }
    }
}

impl RevocationBus {
    /// The newest epoch this node knows. Read it *before* reading what you
    /// cache: a revocation committed after that read bumps past it.
    pub fn epoch(&self) -> i64 {
        self.inner.epoch.load(Ordering::Acquire)
    }

    /// Whether a value cached under `epoch` may still be used.
    pub fn still_valid(&self, epoch: i64) -> bool {
        self.is_fresh() && self.epoch() == epoch
    }

    /// Heard the database within [`STALE_AFTER`].
    pub fn is_fresh(&self) -> bool {
        let heard = self.inner.heard_at.load(Ordering::Acquire);
        heard != u64::MAX
            && self.since_start() < heard.saturating_add(STALE_AFTER.as_millis() as u64)
    }

    /// Epochs as they arrive (for caches that drop entries eagerly).
    pub fn subscribe(&self) -> broadcast::Receiver<i64> {
        self.inner.changes.subscribe()
    }

    fn since_start(&self) -> u64 {
        self.inner.started.elapsed().as_millis() as u64
    }

    fn heard(&self, epoch: i64) {
        self.inner
            .heard_at
            .store(self.since_start(), Ordering::Release);
        let before = self.inner.epoch.fetch_max(epoch, Ordering::AcqRel);
        if epoch > before {
            metrics::gauge!("sealcast_revocation_epoch").set(epoch as f64);
            let _ = self.inner.changes.send(epoch);
        }
    }

    /// Tells every node that access was taken away: bumps the epoch (and
    /// notifies, on PostgreSQL). Call after the revoking write committed.
    pub async fn announce(&self, db: &Db) -> Result<i64, sqlx::Error> {
        let mut tx = db.pool.begin().await?;
        let epoch: i64 = sqlx::query_scalar(
            "UPDATE revocation_epoch SET epoch = epoch + 1, changed_at = $1 WHERE id = 1 RETURNING epoch",
        )
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await?;
        if db.dialect == Dialect::Postgres {
            // Delivered to every listener when the transaction commits.
            sqlx::query(&format!("NOTIFY {CHANNEL}, '{epoch}'"))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.heard(epoch);
        Ok(epoch)
    }

    /// Reads the epoch once.
    pub async fn poll(&self, db: &Db) -> Result<i64, sqlx::Error> {
        let epoch: i64 = sqlx::query_scalar("SELECT epoch FROM revocation_epoch WHERE id = 1")
            .fetch_one(&db.pool)
            .await?;
        self.heard(epoch);
        Ok(epoch)
    }

    /// Keeps this node's view current for the life of the process: polls
    /// every [`POLL`] and, on PostgreSQL, listens for notifications
    /// (reconnecting on its own).
    pub fn spawn(&self, db: Db, database_url: String) -> Vec<tokio::task::JoinHandle<()>> {
        let mut tasks = vec![tokio::spawn(poll_forever(self.clone(), db.clone()))];
        if db.dialect == Dialect::Postgres {
            tasks.push(self.spawn_listener(database_url));
        }
        tasks
    }

    /// Only the PostgreSQL `LISTEN` half of [`spawn`](Self::spawn) (tests
    /// use it to see notifications arrive with no poll behind them).
    pub fn spawn_listener(&self, database_url: String) -> tokio::task::JoinHandle<()> {
        tokio::spawn(listen_forever(self.clone(), database_url))
    }
}

async fn poll_forever(bus: RevocationBus, db: Db) {
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tick.tick().await;
        match tokio::time::timeout(POLL * 2, bus.poll(&db)).await {
            Ok(Ok(_)) => failing = false,
            outcome => {
                if !failing {
                    let error = match outcome {
                        Ok(Err(e)) => e.to_string(),
                        _ => "timed out".into(),
                    };
                    tracing::warn!(%error, "revocation epoch unreadable; caches bypassed until it is");
                    failing = true;
                }
            }
        }
        metrics::gauge!("sealcast_revocation_bus_fresh").set(if bus.is_fresh() {
            1.0
        } else {
            0.0
        });
    }
}

async fn listen_forever(bus: RevocationBus, url: String) {
    loop {
        match listen(&bus, &url).await {
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(error = %e, "revocation LISTEN connection lost; polling covers it")
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn listen(bus: &RevocationBus, url: &str) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    loop {
        let note = listener.recv().await?;
        if let Ok(epoch) = note.payload().parse::<i64>() {
            bus.heard(epoch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn sqlite() -> (tempfile::TempDir, Db) {
        let tmp = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", tmp.path().join("bus.db").display());
        let db = Db::connect(&url).await.unwrap();
        (tmp, db)
    }

    #[tokio::test]
    async fn nothing_is_trusted_before_the_database_was_heard() {
        let (_tmp, db) = sqlite().await;
        assert!(!db.bus.is_fresh());
        assert!(!db.bus.still_valid(0), "epoch 0 but never heard");
        assert_eq!(db.bus.poll(&db).await.unwrap(), 0);
        assert!(db.bus.still_valid(0));
    }

    #[tokio::test]
    async fn an_announcement_invalidates_what_was_cached_before_it() {
        let (_tmp, db) = sqlite().await;
        db.bus.poll(&db).await.unwrap();
        let mut changes = db.bus.subscribe();
        let cached_under = db.bus.epoch();
        assert_eq!(db.announce_revocation().await.unwrap(), cached_under + 1);
        assert!(!db.bus.still_valid(cached_under));
        assert!(db.bus.still_valid(cached_under + 1));
        assert_eq!(changes.recv().await.unwrap(), cached_under + 1);
    }

    #[tokio::test]
    async fn another_process_on_the_same_database_learns_by_polling() {
        let (tmp, db) = sqlite().await;
        // A second pool on the same file: another node's view.
        let url = format!("sqlite://{}", tmp.path().join("bus.db").display());
        let other = Db::connect(&url).await.unwrap();
        other.bus.poll(&other).await.unwrap();
        let cached_under = other.bus.epoch();
        db.announce_revocation().await.unwrap();
        assert!(
            other.bus.still_valid(cached_under),
            "not heard yet: nothing told it"
        );
        other.bus.poll(&other).await.unwrap();
        assert!(!other.bus.still_valid(cached_under));
    }
}
