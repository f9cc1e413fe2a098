//! The audit trail of the key route, written in exactly one place: one record per
//! request that got past path parsing, grant or denial. A grant that cannot be
//! recorded is withheld (fail closed: no unrecorded key handouts).

use super::error::{Denial, KeyErrorCode};
use super::request::KeyRequest;
use super::store::KeyStore;
use std::net::IpAddr;
use zeroize::Zeroizing;

/// Grant or denial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditOutcome {
    /// The key was handed out.
    Granted,
    /// The request was refused.
    Denied,
}

/// One audit record per key request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyAuditEvent {
    /// Grant or denial.
    pub outcome: AuditOutcome,
    /// `"granted"` or the error code returned to the client (e.g. `"revoked"`).
    pub reason: &'static str,
    /// HTTP status returned.
    pub status: u16,
    /// Session id from the URL (unverified when `reason` is a signature failure).
    pub session_id: String,
    /// The session's user, once the session was loaded.
    pub user_id: Option<String>,
    /// The session's video, once the session was loaded.
    pub video_id: Option<String>,
    /// Requested key id.
    pub key_id: String,
    /// Client address ([`ClientIp`](super::ClientIp) extension, else the socket peer).
    pub ip: Option<IpAddr>,
    /// When, unix seconds.
    pub at: u64,
    /// True for pacing denials, so dashboards can tell speed bumps from walls.
    pub pacing: bool,
}

impl KeyAuditEvent {
    /// A denial record for `req`, filled in as the checks learn more.
    pub(super) fn for_request(req: &KeyRequest, now: u64) -> Self {
        Self {
            outcome: AuditOutcome::Denied,
            reason: "",
            status: 0,
            session_id: req.session_id.clone(),
            user_id: None,
            video_id: None,
            key_id: req.key_id.clone(),
            ip: req.ip,
            at: now,
            pacing: false,
        }
    }
}

/// Record the outcome of one key request and pass it on; a grant whose record cannot
/// be written becomes `audit_unavailable`.
pub(super) async fn record(
    store: &dyn KeyStore,
    mut event: KeyAuditEvent,
    outcome: Result<Zeroizing<[u8; 16]>, Denial>,
) -> Result<Zeroizing<[u8; 16]>, Denial> {
    match &outcome {
        Ok(_) => {
            event.outcome = AuditOutcome::Granted;
            event.reason = "granted";
            event.status = 200;
        }
        Err(d) => {
            event.reason = d.code.as_str();
            event.status = d.code.status().as_u16();
            event.pacing = d.code == KeyErrorCode::KeyPacing;
        }
    }
    let written = store.audit(event).await;
    match (outcome, written) {
        (outcome, Ok(())) => outcome,
        (Ok(_), Err(e)) => {
            tracing::error!(error = %e, "audit write failed; refusing key");
            Err(KeyErrorCode::AuditUnavailable.into())
        }
        (Err(d), Err(e)) => {
            tracing::warn!(error = %e, code = d.code.as_str(), "audit write failed for denial");
            Err(d)
        }
    }
}
