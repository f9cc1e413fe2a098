//! What [`DbKeyStore`](super::DbKeyStore) remembers so that a key request in
//! steady playback costs no database round trip, and still never outlives a
//! revocation: the session a grant was made on (with its user's entitlement
//! to its video) under the revocation epoch it was read in
//! ([`crate::db::bus`]), and the sealed content keys of each video.
//!
//! * Only a **granting** answer is remembered: a live session whose user is
//!   entitled. A denial is read fresh every time, so nothing is ever granted
//!   on a remembered "no" turned "yes", and a refusal never sticks.
//! * A remembered session is used only while its epoch is still the newest
//!   this node knows and the node has heard the database within
//!   [`crate::db::bus::STALE_AFTER`]. Every write that takes access away (a
//!   session ended, an enrollment removed, a user disabled, a video revoked
//!   or deleted) announces on the bus after it commits: on the node that
//!   wrote it the very next key request reads the database; every other node
//!   hears it by `NOTIFY` at once, or by its poll within
//!   [`crate::db::bus::POLL`], and a node that cannot hear stops trusting
//!   this cache (fail closed).
//! * The session's own expiry is not cached state: the key route compares it
//!   with the clock on every request.
//! * Sealed keys are immutable rows, only useful to the holder of the master
//!   key, and every request still needs a granting session of that video to
//!   be handed one; they are kept by (video, key id).

use std::time::{Duration, Instant};

use sealcast_keyserver::cache::BudgetCache;
use sealcast_keyserver::{Entitlement, KeyLookup, SealedKey, SessionRecord};

use crate::db::bus::RevocationBus;

/// Belt and braces: even under a steady epoch a session is re-read this often.
const TTL: Duration = Duration::from_secs(30);
/// Bytes of remembered granting sessions (about 80,000 sessions).
const SESSIONS_BUDGET: usize = 16 << 20;
/// Bytes of sealed content keys (about 40,000 keys).
const SEALED_BUDGET: usize = 8 << 20;

#[derive(Clone)]
struct Granting {
    fetched: Instant,
    /// The revocation epoch known before the row was read.
    epoch: i64,
    session: SessionRecord,
}

/// The two caches; one per key store, shared by every request of the process.
pub(super) struct LookupCache {
    sessions: BudgetCache<String, Granting>,
    sealed: BudgetCache<(String, String), SealedKey>,
}

impl LookupCache {
    pub(super) fn new() -> Self {
        Self {
            sessions: BudgetCache::new("key_sessions", SESSIONS_BUDGET),
            sealed: BudgetCache::new("sealed_keys", SEALED_BUDGET),
        }
    }

    /// The session `session_id`, if it was live and its user entitled when
    /// read under an epoch that is still valid on `bus`.
    pub(super) fn granting(&self, bus: &RevocationBus, session_id: &str) -> Option<SessionRecord> {
        self.sessions
            .get(session_id, |g| {
                g.fetched.elapsed() < TTL && bus.still_valid(g.epoch)
            })
            .map(|g| g.session)
    }

    /// Remembers what a fresh lookup, read after `epoch` was taken, found:
    /// the session if it grants, the sealed key if there is one.
    pub(super) fn remember(&self, epoch: i64, session_id: &str, key_id: &str, found: &KeyLookup) {
        let session = &found.session;
        if let Some(sealed) = &found.sealed {
            self.remember_sealed(&session.video_id, key_id, sealed);
        }
        if session.ended || found.entitlement != Entitlement::Allowed {
            return;
        }
        let size = session_id.len() + session.user_id.len() + session.video_id.len() + 96;
        self.sessions.insert(
            session_id.to_string(),
            Granting {
                fetched: Instant::now(),
                epoch,
                session: session.clone(),
            },
            size,
        );
    }

    /// The sealed key `key_id` of `video_id`, if one was read before.
    pub(super) fn sealed(&self, video_id: &str, key_id: &str) -> Option<SealedKey> {
        self.sealed
            .get(&(video_id.to_string(), key_id.to_string()), |_| true)
    }

    pub(super) fn remember_sealed(&self, video_id: &str, key_id: &str, sealed: &SealedKey) {
        // A sealed key is about a hundred bytes (ephemeral key, nonce, tag, 16).
        let size = video_id.len() + key_id.len() + 160;
        self.sealed.insert(
            (video_id.to_string(), key_id.to_string()),
            sealed.clone(),
            size,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;
    use sealcast_keyserver::{seal, KeyContext, MasterKeyPair};

    fn lookup(ended: bool, entitlement: Entitlement) -> KeyLookup {
        let master = MasterKeyPair::generate();
        let ctx = KeyContext {
            video_id: "v1",
            key_id: "k1",
        };
        KeyLookup {
            session: SessionRecord {
                user_id: "u1".into(),
                video_id: "v1".into(),
                expires_at: u64::MAX,
                ended,
                revoked: false,
                crypto_period: Duration::from_secs(30),
                cookie_secret_hash: None,
            },
            entitlement,
            sealed: Some(seal(master.public_key(), &ctx, &[7; 16]).unwrap()),
        }
    }

    async fn heard_db() -> (tempfile::TempDir, Db) {
        let tmp = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", tmp.path().join("cache.db").display());
        let db = Db::connect(&url).await.unwrap();
        db.bus.poll(&db).await.unwrap();
        (tmp, db)
    }

    #[tokio::test]
    async fn a_granting_session_is_kept_until_the_next_revocation_is_heard() {
        let (_tmp, db) = heard_db().await;
        let cache = LookupCache::new();
        let found = lookup(false, Entitlement::Allowed);
        cache.remember(db.bus.epoch(), "s1", "k1", &found);
        assert_eq!(cache.granting(&db.bus, "s1"), Some(found.session.clone()));
        assert_eq!(cache.sealed("v1", "k1"), found.sealed);
        assert_eq!(cache.sealed("v2", "k1"), None, "keys are per video");
        db.announce_revocation().await.unwrap();
        assert_eq!(cache.granting(&db.bus, "s1"), None, "announced: read again");
    }

    #[tokio::test]
    async fn a_read_that_raced_a_revocation_is_never_trusted() {
        let (_tmp, db) = heard_db().await;
        let cache = LookupCache::new();
        // The epoch is taken before the read; the revocation commits in between.
        let epoch = db.bus.epoch();
        db.announce_revocation().await.unwrap();
        cache.remember(epoch, "s1", "k1", &lookup(false, Entitlement::Allowed));
        assert_eq!(cache.granting(&db.bus, "s1"), None);
    }

    #[tokio::test]
    async fn denials_are_never_remembered() {
        let (_tmp, db) = heard_db().await;
        let cache = LookupCache::new();
        let epoch = db.bus.epoch();
        cache.remember(epoch, "ended", "k1", &lookup(true, Entitlement::Allowed));
        for (i, e) in [
            Entitlement::Revoked,
            Entitlement::NotEnrolled,
            Entitlement::UserDisabled,
            Entitlement::VideoGone,
        ]
        .into_iter()
        .enumerate()
        {
            cache.remember(epoch, &format!("s{i}"), "k1", &lookup(false, e));
            assert_eq!(cache.granting(&db.bus, &format!("s{i}")), None, "{e:?}");
        }
        assert_eq!(cache.granting(&db.bus, "ended"), None);
    }

    #[tokio::test]
    async fn a_node_that_never_heard_the_database_trusts_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", tmp.path().join("cache.db").display());
        let db = Db::connect(&url).await.unwrap();
        let cache = LookupCache::new();
        cache.remember(
            db.bus.epoch(),
            "s1",
            "k1",
            &lookup(false, Entitlement::Allowed),
        );
        assert_eq!(cache.granting(&db.bus, "s1"), None);
    }
}
