//! [`DbKeyStore`]: the key server's view of the shared database.
//!
//! A key request reads the session, its user's entitlement and the sealed key
//! in one indexed query, unless this node remembers a granting answer for the
//! session under a revocation epoch that is still current ([`cache`]): a
//! revocation written by any node is seen by this node's very next key
//! request once it has heard the bus (at once on the writing node, by
//! `NOTIFY` or within one poll elsewhere, and a node that cannot hear reads
//! the database every time). Content keys leave the database sealed; only
//! `KeyDelivery` (which owns the master private key) opens them.

mod cache;

use async_trait::async_trait;
use sealcast_keyserver::{
    reseal, Entitlement, KeyAuditEvent, KeyContext, KeyLookup, KeyStore, MasterKeyPair, Role,
    SealedKey, SessionRecord, StoreError,
};
use std::sync::Arc;
use std::time::Duration;

use cache::LookupCache;

use crate::db::Db;
use crate::identity::audit_writer::{AuditWriter, OwnedAuditRecord};
use crate::identity::sessions::{get_session, EndReason};
use crate::videos::access::{self, Access, Viewer};
use crate::videos::VideoStatus;

/// [`KeyStore`] over the sealcast database.
#[derive(Clone)]
pub struct DbKeyStore {
    db: Db,
    audit: AuditWriter,
    cache: Arc<LookupCache>,
}

impl std::fmt::Debug for DbKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbKeyStore").finish_non_exhaustive()
    }
}

impl DbKeyStore {
    /// Starts the audit writer task, so call it inside the runtime.
    pub fn new(db: Db) -> Self {
        let audit = AuditWriter::spawn(db.clone());
        Self {
            db,
            audit,
            cache: Arc::new(LookupCache::new()),
        }
    }

    /// The sealed key `key_id` of `video_id`, remembered once read.
    async fn sealed_cached(
        &self,
        video_id: &str,
        key_id: &str,
    ) -> Result<Option<SealedKey>, StoreError> {
        if let Some(sealed) = self.cache.sealed(video_id, key_id) {
            return Ok(Some(sealed));
        }
        let sealed = self.sealed_key(video_id, key_id).await?;
        if let Some(sealed) = &sealed {
            self.cache.remember_sealed(video_id, key_id, sealed);
        }
        Ok(sealed)
    }

    /// One query for the session, its entitlement inputs and the sealed key.
    async fn lookup_fresh(
        &self,
        session_id: &str,
        key_id: &str,
    ) -> Result<Option<KeyLookup>, StoreError> {
        type Row = (
            String,
            String,
            i64,
            Option<i64>,
            Option<String>,
            Option<i64>,
            Option<String>,
            Option<i64>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            i64,
            Option<String>,
        );
        let row: Option<Row> = sqlx::query_as(
            "SELECT s.user_id, s.video_id, s.expires_at, s.ended_at, s.end_reason, s.crypto_period_ms, s.cookie_hash, \
             u.disabled_at, u.role, v.status, c.owner_id, v.owner_id, \
             (SELECT COUNT(*) FROM enrollments e WHERE e.course_id = v.course_id AND e.user_id = s.user_id), \
             (SELECT k.sealed FROM content_keys k WHERE k.video_id = s.video_id AND k.key_id = $2) \
             FROM playback_sessions s \
             LEFT JOIN users u ON u.id = s.user_id \
             LEFT JOIN videos v ON v.id = s.video_id \
             LEFT JOIN courses c ON c.id = v.course_id \
             WHERE s.id = $1",
        )
        .bind(session_id)
        .bind(key_id)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(store_err)?;
        let Some((
            user_id,
            video_id,
            expires_at,
            ended_at,
            end_reason,
            period,
            cookie,
            disabled_at,
            role,
            status,
            course_owner,
            video_owner,
            enrolled,
            sealed,
        )) = row
        else {
            return Ok(None);
        };
        let entitlement = match (role, status, course_owner, video_owner) {
            (Some(role), Some(status), Some(course_owner), Some(video_owner)) => decide(
                disabled_at,
                &role,
                &status,
                (&course_owner, &video_owner),
                &user_id,
                enrolled,
            ),
            (None, ..) => Entitlement::NotEnrolled,
            _ => Entitlement::VideoGone,
        };
        let sealed = sealed
            .map(|s| SealedKey::from_base64(&s).map_err(store_err))
            .transpose()?;
        Ok(Some(KeyLookup {
            session: session_record(
                user_id,
                video_id,
                expires_at,
                ended_at,
                end_reason.as_deref(),
                period,
                cookie.as_deref(),
            ),
            entitlement,
            sealed,
        }))
    }
}

fn store_err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

/// Crypto period when a session predates the column (or the video had no keys).
const DEFAULT_CRYPTO_PERIOD: Duration = Duration::from_secs(60);

/// Who may watch: an enabled user with the one access rule of
/// [`crate::videos::access`], and only a ready video.
fn decide(
    disabled_at: Option<i64>,
    role: &str,
    status: &str,
    owners: (&str, &str),
    user_id: &str,
    enrolled: i64,
) -> Entitlement {
    let (course_owner, video_owner) = owners;
    if disabled_at.is_some() {
        return Entitlement::UserDisabled;
    }
    let status = VideoStatus::try_from(status.to_string());
    if !matches!(status, Ok(VideoStatus::Ready)) {
        return Entitlement::VideoGone;
    }
    let viewer = Viewer {
        user_id,
        is_admin: role == Role::Admin.as_str(),
    };
    match access::decide(
        viewer,
        course_owner,
        video_owner,
        VideoStatus::Ready,
        enrolled > 0,
    ) {
        Access::None => Entitlement::NotEnrolled,
        Access::Manage | Access::Watch => Entitlement::Allowed,
    }
}

fn session_record(
    user_id: String,
    video_id: String,
    expires_at_ms: i64,
    ended_at: Option<i64>,
    end_reason: Option<&str>,
    crypto_period_ms: Option<i64>,
    cookie_hash: Option<&str>,
) -> SessionRecord {
    SessionRecord {
        revoked: end_reason.is_some_and(EndReason::is_revocation),
        ended: ended_at.is_some(),
        user_id,
        video_id,
        expires_at: u64::try_from(expires_at_ms / 1000).unwrap_or(0),
        crypto_period: crypto_period_ms
            .and_then(|ms| u64::try_from(ms).ok())
            .map_or(DEFAULT_CRYPTO_PERIOD, Duration::from_millis),
        cookie_secret_hash: cookie_hash
            .and_then(|h| hex::decode(h).ok())
            .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok()),
    }
}

#[async_trait]
impl KeyStore for DbKeyStore {
    async fn playback_session(
        &self,
        session_id: &str,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let Some(row) = get_session(&self.db, session_id).await.map_err(store_err)? else {
            return Ok(None);
        };
        Ok(Some(session_record(
            row.user_id,
            row.video_id,
            row.expires_at,
            row.ended_at,
            row.end_reason.as_deref(),
            row.crypto_period_ms,
            row.cookie_hash.as_deref(),
        )))
    }

    async fn entitlement(&self, user_id: &str, video_id: &str) -> Result<Entitlement, StoreError> {
        type Row = (Option<i64>, String, String, String, String, i64);
        let row: Option<Row> = sqlx::query_as(
            "SELECT u.disabled_at, u.role, v.status, c.owner_id, v.owner_id, \
             (SELECT COUNT(*) FROM enrollments e WHERE e.course_id = v.course_id AND e.user_id = u.id) \
             FROM users u, videos v JOIN courses c ON c.id = v.course_id \
             WHERE u.id = $1 AND v.id = $2",
        )
        .bind(user_id)
        .bind(video_id)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(store_err)?;
        let Some((disabled_at, role, status, course_owner, video_owner, enrolled)) = row else {
            // Either the video or the user is gone; a deleted user has no rights.
            let video: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM videos WHERE id = $1")
                .bind(video_id)
                .fetch_one(&self.db.pool)
                .await
                .map_err(store_err)?;
            return Ok(if video == 0 {
                Entitlement::VideoGone
            } else {
                Entitlement::NotEnrolled
            });
        };
        Ok(decide(
            disabled_at,
            &role,
            &status,
            (&course_owner, &video_owner),
            user_id,
            enrolled,
        ))
    }

    async fn sealed_key(
        &self,
        video_id: &str,
        key_id: &str,
    ) -> Result<Option<SealedKey>, StoreError> {
        let sealed: Option<String> = sqlx::query_scalar(
            "SELECT sealed FROM content_keys WHERE video_id = $1 AND key_id = $2",
        )
        .bind(video_id)
        .bind(key_id)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(store_err)?;
        sealed
            .map(|s| SealedKey::from_base64(&s).map_err(store_err))
            .transpose()
    }

    /// From [`cache`] when this node remembers the session granting under a
    /// current epoch (the sealed key then from memory or one small query),
    /// otherwise one query for everything.
    async fn lookup(
        &self,
        session_id: &str,
        key_id: &str,
    ) -> Result<Option<KeyLookup>, StoreError> {
        if let Some(session) = self.cache.granting(&self.db.bus, session_id) {
            let sealed = self.sealed_cached(&session.video_id, key_id).await?;
            return Ok(Some(KeyLookup {
                session,
                entitlement: Entitlement::Allowed,
                sealed,
            }));
        }
        // Before the read: a revocation committed after it bumps past this.
        let epoch = self.db.bus.epoch();
        let found = self.lookup_fresh(session_id, key_id).await?;
        if let Some(found) = &found {
            self.cache.remember(epoch, session_id, key_id, found);
        }
        Ok(found)
    }

    async fn audit(&self, event: KeyAuditEvent) -> Result<(), StoreError> {
        let outcome = match event.outcome {
            sealcast_keyserver::AuditOutcome::Granted => "granted",
            sealcast_keyserver::AuditOutcome::Denied => "denied",
        };
        let record = OwnedAuditRecord {
            action: "key",
            outcome,
            reason: Some(event.reason),
            actor_id: event.user_id,
            session_id: Some(event.session_id),
            video_id: event.video_id,
            key_id: Some(event.key_id),
            ip: event.ip,
            pacing: event.pacing,
            detail: (event.status != 200).then(|| serde_json::json!({ "status": event.status })),
        };
        self.audit.write(record).await.map_err(StoreError)
    }
}

/// Re-seals every content key sealed to `old` so it is sealed to `new`, in
/// batches (memory stays bounded). Returns how many were re-sealed. A row that
/// does not open with `old` stops the run: it is reported, never dropped.
pub async fn reseal_all(db: &Db, old: &MasterKeyPair, new: &MasterKeyPair) -> Result<u64, String> {
    let old_fp = old.fingerprint().to_hex();
    let new_fp = new.fingerprint().to_hex();
    let mut total = 0;
    loop {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT video_id, key_id, sealed FROM content_keys WHERE master_fingerprint = $1 \
             ORDER BY video_id, key_id LIMIT 500",
        )
        .bind(&old_fp)
        .fetch_all(&db.pool)
        .await
        .map_err(|e| e.to_string())?;
        if rows.is_empty() {
            return Ok(total);
        }
        for (video_id, key_id, sealed_text) in rows {
            let ctx = KeyContext {
                video_id: &video_id,
                key_id: &key_id,
            };
            let resealed = SealedKey::from_base64(&sealed_text)
                .and_then(|s| reseal(old, new.public_key(), &ctx, &s))
                .map_err(|e| format!("content key {video_id}/{key_id}: {e}"))?;
            sqlx::query(
                "UPDATE content_keys SET sealed = $1, master_fingerprint = $2 \
                 WHERE video_id = $3 AND key_id = $4 AND sealed = $5",
            )
            .bind(resealed.to_base64())
            .bind(&new_fp)
            .bind(&video_id)
            .bind(&key_id)
            .bind(&sealed_text)
            .execute(&db.pool)
            .await
            .map_err(|e| e.to_string())?;
            total += 1;
        }
    }
}

/// Refuses a key server whose master key opens none of the stored content
/// keys: on a cluster that is a node given the wrong key file, and it would
/// fail every key request it answers. Keys sealed to another master next to
/// keys sealed to this one are a rotation in progress, which is fine.
pub async fn check_master_matches(db: &Db, master: &MasterKeyPair) -> Result<(), String> {
    let ours = master.fingerprint().to_hex();
    let sealed_to: Vec<(String, i64)> = sqlx::query_as(
        "SELECT master_fingerprint, COUNT(*) FROM content_keys GROUP BY master_fingerprint",
    )
    .fetch_all(&db.pool)
    .await
    .map_err(|e| format!("cannot read the content keys: {e}"))?;
    if sealed_to.is_empty() || sealed_to.iter().any(|(fp, _)| *fp == ours) {
        return Ok(());
    }
    let theirs: Vec<String> = sealed_to
        .iter()
        .map(|(fp, n)| format!("{n} to {fp}"))
        .collect();
    Err(format!(
        "this key server's master key (fingerprint {ours}) opens none of the stored content \
         keys (sealed {}); give every key server the cluster's master key file",
        theirs.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crypto_period_keeps_its_milliseconds() {
        let record =
            |ms| session_record("u".into(), "v".into(), 0, None, None, ms, None).crypto_period;
        assert_eq!(record(Some(2_500)), Duration::from_millis(2_500));
        assert_eq!(record(None), DEFAULT_CRYPTO_PERIOD);
        assert_eq!(record(Some(-1)), DEFAULT_CRYPTO_PERIOD);
    }
}
