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

/// Which of the two URL forms a key was asked by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyPath {
    /// `/keys/{session_id}/{key_id}?exp=…&kv=…&sig=…`, signed over `/keys/{session_id}/`.
    Keys,
    /// `/hls/{session_id}/{token}/{key_id}.key`: the relative key URI of a
    /// session's playlists (`../{key_id}.key` from a rung's `index.m3u8`),
    /// under the session's path token, signed over `/hls/{session_id}/`.
    Hls,
}

/// What follows a key's id in its file name under a session's `/hls/` path.
pub const HLS_KEY_SUFFIX: &str = ".key";

/// Everything the checks need from one key request.
pub(super) struct KeyRequest {
    pub(super) session_id: String,
    pub(super) key_id: String,
    pub(super) form: KeyPath,
    /// `None` when `exp`/`sig` are missing, malformed or repeated.
    pub(super) signed: Option<SignedQuery>,
    pub(super) credential: Credential,
    pub(super) ip: Option<IpAddr>,
}

impl KeyRequest {
    /// `GET /keys/{session_id}/{key_id}?exp=…&sig=…`.
    pub(super) fn parse(parts: &Parts, session_id: String, key_id: String) -> Self {
        let signed = SignedQuery::parse(parts.uri.query().unwrap_or(""));
        Self::new(parts, session_id, key_id, signed, KeyPath::Keys)
    }

    /// `GET /hls/{session_id}/{token}/{key_id}.key`.
    pub(super) fn parse_hls(
        parts: &Parts,
        session_id: String,
        token: &str,
        key_id: String,
    ) -> Self {
        let signed = SignedQuery::from_path_token(token);
        Self::new(parts, session_id, key_id, signed, KeyPath::Hls)
    }

    fn new(
        parts: &Parts,
        session_id: String,
        key_id: String,
        signed: Option<SignedQuery>,
        form: KeyPath,
    ) -> Self {
        Self {
            credential: credential(parts, &session_id),
            signed,
            ip: client_ip(parts),
            session_id,
            key_id,
            form,
        }
    }

    /// The path the URL signature must cover (the token taken out of an
    /// `/hls/` path, as the edge signs and checks it).
    pub(super) fn path(&self) -> String {
        match self.form {
            KeyPath::Keys => format!("/keys/{}/{}", self.session_id, self.key_id),
            KeyPath::Hls => format!("/hls/{}/{}{HLS_KEY_SUFFIX}", self.session_id, self.key_id),
        }
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
