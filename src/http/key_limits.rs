//! A per-session request limit in front of the key route (governor).
//!
//! Key pacing (in the key server) bounds how fast a session collects
//! *distinct* keys; this bounds how often it may ask at all, so a stolen
//! signed URL cannot be used to hammer the database. Only requests whose URL
//! signature verifies count against a session, so nobody can drain a
//! victim's bucket by guessing its id. Denials are audited like every other
//! key denial.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sealcast_keyserver::{SignedQuery, UrlSigner};

use crate::db::Db;
use crate::identity::audit::{record_best_effort, AuditRecord};

const SHRINK_ABOVE: usize = 100_000;

struct Limits {
    per_session: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
    signer: Arc<UrlSigner>,
    db: Db,
}

/// Wraps the key router: at most `per_second` requests per session per second
/// (burst four times that); beyond, `429 rate_limited` with Retry-After.
pub fn limit_key_requests(keys: Router, per_second: u32, signer: Arc<UrlSigner>, db: Db) -> Router {
    let rate = NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(per_second.max(1).saturating_mul(4)).unwrap_or(rate);
    let limits = Arc::new(Limits {
        per_session: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
        clock: DefaultClock::default(),
        signer,
        db,
    });
    keys.layer(axum::middleware::from_fn_with_state(limits, check))
}

async fn check(State(limits): State<Arc<Limits>>, req: Request, next: Next) -> Response {
    let Some((session_id, key_id)) = req
        .uri()
        .path()
        .strip_prefix("/keys/")
        .and_then(|rest| rest.split_once('/'))
        .map(|(s, k)| (s.to_string(), k.to_string()))
    else {
        return next.run(req).await;
    };
    let now = (crate::db::now_ms() / 1000) as u64;
    let signed = SignedQuery::parse(req.uri().query().unwrap_or("")).is_some_and(|q| {
        limits
            .signer
            .verify(req.uri().path(), &session_id, q.exp, &q.sig, now)
            .is_ok()
    });
    if !signed {
        // The key route refuses and audits it; it costs no database work there.
        return next.run(req).await;
    }
    if limits.per_session.len() > SHRINK_ABOVE {
        limits.per_session.retain_recent();
    }
    let Err(not_until) = limits.per_session.check_key(&session_id) else {
        return next.run(req).await;
    };
    let wait = not_until.wait_time_from(limits.clock.now());
    let retry_after = (wait.as_millis().div_ceil(1000) as u64).max(1);
    let ip = req
        .extensions()
        .get::<sealcast_keyserver::ClientIp>()
        .map(|c| c.0)
        .or_else(|| {
            req.extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip())
        });
    record_best_effort(
        &limits.db,
        &AuditRecord {
            action: "key",
            outcome: "denied",
            reason: Some("rate_limited"),
            session_id: Some(&session_id),
            key_id: Some(&key_id),
            ip,
            detail: Some(serde_json::json!({ "status": 429 })),
            ..Default::default()
        },
    )
    .await;
    let body = serde_json::json!({"error": {"code": "rate_limited", "message": "too many key requests for this session"}});
    let mut resp = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    resp
}
