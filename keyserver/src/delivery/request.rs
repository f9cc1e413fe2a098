//! Reading a key request, once: the path's session and key ids, the signed query,
//! the caller's credential (Bearer token or session cookie), the client address for
//! the audit and the request id for error bodies. Nothing here decides anything.

use super::cookies::{cookie_name, cookie_values};
use crate::signed_url::SignedQuery;
use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::HeaderName;
use axum_extra::headers::authorization::{Authorization, Bearer};
use axum_extra::headers::HeaderMapExt as _;
use std::net::{IpAddr, SocketAddr};
use tower_http::request_id::RequestId;

/// Request extension the root crate may set (from a trusted proxy header) to give the
/// real client address for audit records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// How the caller claims to be the session's user.
pub(super) enum Credential {
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// An `Authorization` header that is not a usable Bearer token. It is still
    /// authoritative: no fallback to the cookie.
    BadAuthorization,
    /// Values of the session's key cookie (no `Authorization` header).
    Cookies(Vec<String>),
    /// Neither.
    Missing,
}

/// Everything the checks need from one `GET /keys/{session_id}/{key_id}`.
pub(super) struct KeyRequest {
    pub(super) session_id: String,
    pub(super) key_id: String,
    /// `None` when `exp`/`sig` are missing, malformed or repeated.
    pub(super) signed: Option<SignedQuery>,
    pub(super) credential: Credential,
    pub(super) ip: Option<IpAddr>,
}

impl KeyRequest {
    pub(super) fn parse(parts: &Parts, session_id: String, key_id: String) -> Self {
        let credential = credential(parts, &session_id);
        Self {
            signed: SignedQuery::parse(parts.uri.query().unwrap_or("")),
            credential,
            ip: client_ip(parts),
            session_id,
            key_id,
        }
    }

    /// The path the URL signature must cover.
    pub(super) fn path(&self) -> String {
        format!("/keys/{}/{}", self.session_id, self.key_id)
    }
}

fn credential(parts: &Parts, session_id: &str) -> Credential {
    match parts.headers.typed_try_get::<Authorization<Bearer>>() {
        Ok(Some(auth)) if !auth.token().trim().is_empty() => {
            Credential::Bearer(auth.token().trim().to_owned())
        }
        Ok(Some(_)) | Err(_) => Credential::BadAuthorization,
        Ok(None) => {
            let values = cookie_values(&parts.headers, &cookie_name(session_id));
            if values.is_empty() {
                Credential::Missing
            } else {
                Credential::Cookies(values)
            }
        }
    }
}

fn client_ip(parts: &Parts) -> Option<IpAddr> {
    let ext = &parts.extensions;
    ext.get::<ClientIp>()
        .map(|c| c.0)
        .or_else(|| ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()))
}

/// The id tower-http's `SetRequestIdLayer` gave this request (extension first, then
/// the `x-request-id` header), or empty outside such a stack.
pub(super) fn request_id(parts: &Parts) -> String {
    const HEADER: HeaderName = HeaderName::from_static("x-request-id");
    parts
        .extensions
        .get::<RequestId>()
        .map(RequestId::header_value)
        .or_else(|| parts.headers.get(HEADER))
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}
