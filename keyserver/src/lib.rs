//! `sealcast-keyserver`: tokens, key custody and key delivery for sealcast.
//!
//! What it is for: handing an HLS content key (16 bytes, AES-128) only to a live
//! playback session whose caller proves to be the session's user, who is entitled
//! to the video and not revoked, and only at a human playback pace.
//!
//! * [`custody`]: content keys at rest are sealed to an X25519 master key (RFC 9180 HPKE).
//! * [`tokens`]: Ed25519 JWT access tokens (+ one external issuer), JWKS.
//! * [`signed_url`]: HMAC-signed playback URL prefixes (`?exp=&sig=`).
//! * [`rotation`]: which rotated keys several nodes still share, and sealing them for
//!   the database.
//! * [`pacing`]: per user and video, an allowance of media time that grows at twice
//!   real time; [`clock`]: injectable time.
//! * [`delivery`]: the axum key route `GET /keys/{session_id}/{key_id}`, with its
//!   per-session request limit.
//!
//! It knows nothing about uploads, media or the concrete database: the root crate
//! implements [`KeyStore`].
//!
//! **The edge never holds the master key**: only a key-server role constructs
//! [`KeyDelivery`] with a [`MasterKeyPair`]; workers and edges only ever see the
//! public key ([`x25519_dalek::PublicKey`], used by [`seal`]).

pub mod cache;
pub mod clock;
pub mod custody;
pub mod delivery;
pub mod keyed_limit;
pub mod pacing;
pub mod rotation;
pub mod signed_url;
pub mod tokens;

pub use custody::{
    open, public_key_from_slice, reseal, seal, CustodyError, KeyContext, KeyFingerprint,
    MasterKeyPair, SealedFormat, SealedKey,
};
pub use delivery::{
    cookie_name, new_session_cookie, session_cookie_headers, AuditOutcome, ClientIp, Entitlement,
    KeyAuditEvent, KeyDelivery, KeyDeliveryConfig, KeyErrorCode, KeyLookup, KeyStore,
    SessionRecord, StoreError, DEFAULT_KEY_REQUESTS_PER_SECOND, HLS_KEY_ROUTE, HLS_KEY_SUFFIX,
};
pub use keyed_limit::KeyedLimit;
pub use pacing::{Clock, KeyPacer, ManualClock, PacingConfig, PacingDecision, SystemClock};
pub use rotation::{KeyLife, KeyringSeal, SealError};
pub use signed_url::{
    SignatureError, SignedQuery, UrlSigner, UrlSignerError,
    DEFAULT_MAX_LIFETIME as DEFAULT_URL_LIFETIME,
};
pub use tokens::{
    external_user_id, Claims, ExternalAlgorithm, ExternalIssuerConfig, ExternalKeySource, Issuer,
    PublicKeyring, Role, SigningKeyring, TokenError, TokenIssuer, TokenVerifier, VerifiedIdentity,
    VerifierConfig,
};
/// Re-exported so callers name the same X25519 public key type as [`seal`].
pub use x25519_dalek::PublicKey as MasterPublicKey;
