//! The checks of one key request, in the order the module docs of [`super`] give.
//! Each step either passes or names its [`KeyErrorCode`]. Nothing here caches access
//! state; what the store remembers it drops when any node announces a revocation.

use super::audit::KeyAuditEvent;
use super::error::{Denial, KeyErrorCode};
use super::identity::prove_user;
use super::request::KeyRequest;
use super::store::{Entitlement, KeyLookup, SessionRecord};
use super::Inner;
use crate::cache::BudgetCache;
use crate::custody::{open, KeyContext};
use crate::pacing::{PacingDecision, Viewer};
use crate::signed_url::{is_valid_id, SignatureError};
use zeroize::Zeroizing;

pub(super) async fn serve_key(
    inner: &Inner,
    req: &KeyRequest,
    now: u64,
    event: &mut KeyAuditEvent,
) -> Result<Zeroizing<[u8; 16]>, Denial> {
    // 1. Signature over the /keys/{session_id}/ prefix: the only place it is checked.
    verify_signature(inner, req, now)?;

    // 2. Session exists and is live. Session, entitlement and sealed key are read
    //    now, in one store call (one round trip where the store can), and checked
    //    below in order.
    let KeyLookup {
        session,
        entitlement,
        sealed,
    } = inner
        .store
        .lookup(&req.session_id, &req.key_id)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "key lookup failed");
            KeyErrorCode::StoreUnavailable
        })?
        .ok_or(KeyErrorCode::SessionNotFound)?;
    event.user_id = Some(session.user_id.clone());
    event.video_id = Some(session.video_id.clone());
    session_is_live(&session, now)?;

    // 3. The caller proves to be the session's user; only then is the request
    //    charged to the session's request limit.
    prove_user(
        &inner.verifier,
        &inner.verified_tokens,
        &req.credential,
        &session,
        now,
    )?;
    inner
        .limits
        .check(&req.session_id)
        .map_err(|secs| Denial::retry_after(KeyErrorCode::RateLimited, secs))?;

    // 4. Entitlement, as the store answers it now.
    entitled(entitlement)?;

    // 5. The key belongs to this session's video.
    let sealed = sealed
        .filter(|_| is_valid_id(&req.key_id))
        .ok_or(KeyErrorCode::KeyNotFound)?;

    // 6. Pacing, per user and video across all their sessions.
    let viewer = Viewer {
        user_id: &session.user_id,
        video_id: &session.video_id,
    };
    if let PacingDecision::Denied { retry_after_secs } =
        inner
            .pacer
            .check(viewer, &req.key_id, session.crypto_period)
    {
        return Err(Denial::retry_after(
            KeyErrorCode::KeyPacing,
            retry_after_secs,
        ));
    }

    // 7. Open (AAD binds video and key id: a mis-filed row fails here, not
    //    silently), or take the key this process opened before.
    let cache_key = (session.video_id.clone(), req.key_id.clone());
    if let Some(key) = inner.opened_keys.get(&cache_key, |_| true) {
        return Ok(key);
    }
    let ctx = KeyContext {
        video_id: &session.video_id,
        key_id: &req.key_id,
    };
    let key = open(&inner.master, &ctx, &sealed).map_err(|e| {
        tracing::error!(error = %e, video_id = %session.video_id, key_id = %req.key_id,
            "sealed key did not open");
        Denial::from(KeyErrorCode::KeyUnavailable)
    })?;
    let size = 16 + cache_key.0.len() + cache_key.1.len();
    inner.opened_keys.insert(cache_key, key.clone(), size);
    Ok(key)
}

/// (video id, key id) → the opened content key, zeroized when evicted.
///
/// Not access state: every check above still runs on every request (the
/// session, its user, the entitlement and that the key is the session's
/// video's are asked of the store each time); this only skips the X25519
/// open, a fifth of the route's cost. The process that holds these keys
/// holds the master key that opens every one of them anyway.
pub(super) type OpenedKeys = BudgetCache<(String, String), Zeroizing<[u8; 16]>>;

/// Byte budget of [`OpenedKeys`]: about 40,000 keys.
pub(super) const OPENED_KEYS_BUDGET: usize = 8 << 20;

fn verify_signature(inner: &Inner, req: &KeyRequest, now: u64) -> Result<(), KeyErrorCode> {
    let q = req.signed.as_ref().ok_or(KeyErrorCode::BadSignature)?;
    inner
        .signer
        .verify_query(&req.path(), &req.session_id, q, now)
        .map_err(|e| match e {
            SignatureError::Bad => KeyErrorCode::BadSignature,
            SignatureError::Expired => KeyErrorCode::ExpiredSignature,
        })
}

fn session_is_live(session: &SessionRecord, now: u64) -> Result<(), KeyErrorCode> {
    if session.ended && session.revoked {
        Err(KeyErrorCode::SessionRevoked)
    } else if session.ended || session.expires_at <= now {
        Err(KeyErrorCode::SessionEnded)
    } else {
        Ok(())
    }
}

fn entitled(entitlement: Entitlement) -> Result<(), KeyErrorCode> {
    match entitlement {
        Entitlement::Allowed => Ok(()),
        Entitlement::Revoked => Err(KeyErrorCode::Revoked),
        Entitlement::NotEnrolled => Err(KeyErrorCode::NotEntitled),
        Entitlement::UserDisabled => Err(KeyErrorCode::UserDisabled),
        Entitlement::VideoGone => Err(KeyErrorCode::VideoGone),
    }
}
