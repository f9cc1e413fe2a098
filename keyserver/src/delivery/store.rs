//! What the key route asks of the root crate's database: sessions, entitlements and
//! sealed keys, asked on every request, and somewhere to write the audit trail.

use super::audit::KeyAuditEvent;
use crate::custody::SealedKey;
use crate::signed_url::is_valid_id;
use async_trait::async_trait;

/// A playback session as stored by the root crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The user the session was opened for.
    pub user_id: String,
    /// The video being watched.
    pub video_id: String,
    /// Hard expiry, unix seconds.
    pub expires_at: u64,
    /// Explicitly ended (logout, stop, replaced, admin action).
    pub ended: bool,
    /// Ended by a revocation (admin action, enrollment removal), so the client is
    /// told `session_revoked` rather than `session_ended` and stops retrying.
    pub revoked: bool,
    /// Media per content key (sub-second precision: 2.5 s keys are not 2 s);
    /// drives pacing.
    pub crypto_period: std::time::Duration,
    /// SHA-256 of the session cookie value, if a cookie was issued (Safari native HLS).
    pub cookie_secret_hash: Option<[u8; 32]>,
}

/// Whether a user may currently watch a video. Queried on every key request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entitlement {
    /// May watch.
    Allowed,
    /// Access was revoked (refund, removal from course, …).
    Revoked,
    /// Never enrolled.
    NotEnrolled,
    /// The user account is disabled.
    UserDisabled,
    /// The video was deleted or unpublished.
    VideoGone,
}

/// A storage failure. The key route fails closed (503) on any of these.
#[derive(Debug, Clone, thiserror::Error)]
#[error("key store error: {0}")]
pub struct StoreError(pub String);

/// The storage the root crate implements over its database. No method may be
/// answered from a node-local cache that could outlive a revocation by > 1 s, or
/// that the node which wrote the revocation would still use.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// Load a playback session.
    async fn playback_session(&self, session_id: &str)
        -> Result<Option<SessionRecord>, StoreError>;
    /// Current entitlement of `user_id` to `video_id` (queried on every request).
    async fn entitlement(&self, user_id: &str, video_id: &str) -> Result<Entitlement, StoreError>;
    /// The sealed content key `key_id` **of `video_id`** (None if that video has no such key).
    async fn sealed_key(
        &self,
        video_id: &str,
        key_id: &str,
    ) -> Result<Option<SealedKey>, StoreError>;
    /// Record a grant or denial.
    async fn audit(&self, event: KeyAuditEvent) -> Result<(), StoreError>;

    /// Everything one key request needs: the session and, if it exists, its user's
    /// entitlement and the sealed key `key_id` of its video. The default makes the
    /// three calls above; a store may override it to answer in one round trip, or
    /// from what it remembers under the rule above.
    async fn lookup(
        &self,
        session_id: &str,
        key_id: &str,
    ) -> Result<Option<KeyLookup>, StoreError> {
        let Some(session) = self.playback_session(session_id).await? else {
            return Ok(None);
        };
        let entitlement = self
            .entitlement(&session.user_id, &session.video_id)
            .await?;
        let sealed = if is_valid_id(key_id) {
            self.sealed_key(&session.video_id, key_id).await?
        } else {
            None
        };
        Ok(Some(KeyLookup {
            session,
            entitlement,
            sealed,
        }))
    }
}

/// What [`KeyStore::lookup`] returns for an existing session.
#[derive(Debug, Clone)]
pub struct KeyLookup {
    /// The session.
    pub session: SessionRecord,
    /// Its user's current entitlement to its video.
    pub entitlement: Entitlement,
    /// The requested key of its video, if there is one.
    pub sealed: Option<SealedKey>,
}
