//! Signed playback URLs: HMAC-SHA256 over a path *prefix*, a session id and an expiry.
//!
//! A signature is carried either as `?exp=<unix seconds>&sig=<mac>` (and
//! `&kv=<key version>` once the secret has been rotated: module `versions`) or
//! as one path segment `{exp}.{kv}.{sig}` right after the signed prefix (a
//! path token), where the MAC covers a prefix such as `/hls/{session_id}/` or
//! `/keys/{session_id}/`. Because the signature covers a prefix rather than one
//! file, one signature serves a whole session: playback URLs are
//! `/hls/{session_id}/{token}/…`, whose playlists name variants and segments
//! by relative names that inherit the token, and key URIs carry the query.
//! The bearer JWT never has to appear in a URL.
//!
//! The MAC input is domain-separated and length-prefixed:
//! `"sealcast/url/v1" || len(prefix) || prefix || len(session) || session || exp(u64 BE)`.
//!
//! This module must never: compare MACs with `==` (only [`hmac::Mac::verify_slice`], which is
//! constant time); accept an expiry further in the future than the configured maximum
//! lifetime; accept a path that escapes its signed prefix (`..`, `.`, empty segments);
//! or accept a secret shorter than 32 bytes.

mod ids;
mod query;
mod signer;
mod versions;

pub use ids::is_valid_id;
pub use query::SignedQuery;
pub use signer::UrlSigner;

use std::time::Duration;

/// Minimum HMAC secret length: a full SHA-256 block of entropy.
pub const MIN_SECRET_LEN: usize = 32;
/// Default cap on how far in the future a signed URL may expire. Long enough for a
/// long lecture plus pauses; the edge re-signs on every master playlist fetch.
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// Why a signed URL was refused. Deliberately only two outcomes so a prober learns
/// nothing about *which* part was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// Wrong/missing/malformed signature, path outside the prefix, or an expiry beyond
    /// the maximum lifetime.
    #[error("bad signature")]
    Bad,
    /// Signature was valid but the expiry has passed.
    #[error("signature expired")]
    Expired,
}

/// Construction errors for [`UrlSigner`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlSignerError {
    /// Secrets shorter than [`MIN_SECRET_LEN`] are refused outright.
    #[error("url signing secret must be at least {MIN_SECRET_LEN} bytes, got {0}")]
    SecretTooShort(usize),
    /// `sign` was given a prefix that is not `/`-delimited or does not end with the
    /// session id segment, or an invalid session id.
    #[error("invalid prefix or session id: {0}")]
    InvalidInput(&'static str),
}
