//! Access tokens: Ed25519-signed JWTs (EdDSA) for local users, plus one optional
//! configured external issuer (RS256 / ES256 / EdDSA, keyed by PEM or JWKS).
//!
//! * [`SigningKeyring`] holds several Ed25519 keys; the newest signs and all verify,
//!   so rotating a key never invalidates tokens already handed out.
//! * [`TokenIssuer`] mints short-lived access tokens (default 15 min).
//! * [`TokenVerifier`] needs only *public* keys ([`PublicKeyring`]), so any node can
//!   verify without holding a signing key. It pins algorithms per issuer, requires a
//!   known `kid` and checks `exp`/`nbf`/`iss`/`aud` with at most 30 s of leeway.
//!
//! This module must never: let the token header choose the algorithm (no `none`, no
//! HS256-with-the-public-key confusion); fall back from the external issuer to the
//! local keys or vice versa; log a token or a private key; or accept a token with
//! an unknown `kid`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::sync::RwLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use zeroize::Zeroizing;

/// Default access-token lifetime: short, because tokens are bearer credentials.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);
/// Upper bound on any issued token's lifetime.
pub const MAX_TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);
/// Upper bound on clock-skew leeway for `exp`/`nbf`.
pub const MAX_LEEWAY_SECS: u64 = 30;
/// Tokens longer than this are rejected before any parsing.
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Token failures. Coarse enough to return to clients as `invalid_token`, precise
/// enough for audit logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a well-formed JWT (structure, base64, JSON).
    #[error("malformed token")]
    Malformed,
    /// The header's `alg` is not the one pinned for the issuer.
    #[error("algorithm not allowed")]
    AlgorithmNotAllowed,
    /// The `kid` is missing or not in the key set.
    #[error("unknown key id")]
    UnknownKid,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// `exp` has passed (beyond leeway).
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future (beyond leeway).
    #[error("token not yet valid")]
    NotYetValid,
    /// `iss` is not an accepted issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `aud` does not contain our audience.
    #[error("wrong audience")]
    WrongAudience,
    /// A required claim is missing or has the wrong type.
    #[error("missing or invalid claim {0}")]
    MissingClaim(String),
    /// Key material could not be parsed or used.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// Inconsistent configuration.
    #[error("configuration error: {0}")]
    Config(String),
}

fn map_jwt_error(e: jsonwebtoken::errors::Error) -> TokenError {
    match e.kind() {
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            TokenError::AlgorithmNotAllowed
        }
        ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
        ErrorKind::InvalidAudience => TokenError::WrongAudience,
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        ErrorKind::MissingRequiredClaim(c) => TokenError::MissingClaim(c.clone()),
        ErrorKind::InvalidKeyFormat
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::RsaFailedSigning => TokenError::InvalidKey(e.to_string()),
        _ => TokenError::Malformed,
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// What a user may do. Carried in local tokens; mapped from a claim for external ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Learners watch videos they are enrolled in.
    Learner,
    /// Creators upload and manage their own courses.
    Creator,
    /// Admins manage everything.
    Admin,
}

impl Role {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Creator => "creator",
            Role::Learner => "learner",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = TokenError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Role::Admin),
            "creator" => Ok(Role::Creator),
            "learner" => Ok(Role::Learner),
            _ => Err(TokenError::MissingClaim("role".into())),
        }
    }
}

/// Claims of a locally issued access token. All fields are required on verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: String,
    /// The user's role at issue time.
    pub role: Role,
    /// Our issuer name.
    pub iss: String,
    /// Our audience.
    pub aud: String,
    /// Expiry, unix seconds.
    pub exp: u64,
    /// Not before, unix seconds.
    pub nbf: u64,
    /// Issued at, unix seconds.
    pub iat: u64,
    /// Unique token id (for audit trails and future deny-lists).
    pub jti: String,
}

/// Which issuer vouched for an identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Issuer {
    /// Our own [`TokenIssuer`].
    Local,
    /// The configured external identity provider.
    External,
}

/// The result of successful verification: who, with what role, vouched by whom, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifiedIdentity {
    /// User id (local `sub`, or the external issuer's configured user claim).
    pub user_id: String,
    /// Role (external: from the role claim, missing/unknown → learner).
    pub role: Role,
    /// Who issued the token.
    pub issuer: Issuer,
    /// Token expiry, unix seconds.
    pub expires_at: u64,
}

/// RFC 7638 JWK thumbprint of an Ed25519 public key: a deterministic `kid`, so every
/// node loading the same PEM agrees on the key id.
pub fn ed25519_kid(key: &VerifyingKey) -> String {
    let x = URL_SAFE_NO_PAD.encode(key.as_bytes());
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

fn ed25519_jwk(kid: &str, key: &VerifyingKey) -> Value {
    json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "x": URL_SAFE_NO_PAD.encode(key.as_bytes()),
        "kid": kid,
        "alg": "EdDSA",
        "use": "sig",
    })
}

struct SigningEntry {
    kid: String,
    key: SigningKey,
    encoding: EncodingKey,
}

/// Ed25519 signing keys, oldest first; the newest signs, all verify.
///
/// Rotation: [`rotate`](Self::rotate) (or [`add_pem`](Self::add_pem)) makes a new
/// active key; keep the old one until every token it signed has expired (at most
/// [`MAX_TOKEN_TTL`]), then [`remove`](Self::remove) it.
#[derive(Default)]
pub struct SigningKeyring {
    keys: Vec<SigningEntry>,
}

impl fmt::Debug for SigningKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeyring")
            .field("kids", &self.kids())
            .field("active", &self.active_kid())
            .finish()
    }
}

impl SigningKeyring {
    /// An empty keyring (cannot sign until a key is added).
    pub fn new() -> Self {
        Self::default()
    }

    /// A keyring with one freshly generated key.
    pub fn generate() -> Self {
        let mut k = Self::new();
        k.rotate();
        k
    }

    fn push(&mut self, key: SigningKey) -> Result<String, TokenError> {
        let kid = ed25519_kid(&key.verifying_key());
        let der = key
            .to_pkcs8_der()
            .map_err(|e| TokenError::InvalidKey(e.to_string()))?;
        let encoding = EncodingKey::from_ed_der(der.as_bytes());
        // Re-adding an existing key moves it to the active position.
        self.keys.retain(|e| e.kid != kid);
        self.keys.push(SigningEntry {
            kid: kid.clone(),
            key,
            encoding,
        });
        Ok(kid)
    }

    /// Generate a new key and make it the active signer. Returns its `kid`.
    pub fn rotate(&mut self) -> String {
        // Encoding a freshly generated key to PKCS#8 cannot fail.
        self.push(SigningKey::generate(&mut OsRng))
            .expect("pkcs8 encoding of a fresh key")
    }

    /// Add a PKCS#8 PEM private key as the newest (active) key. Returns its `kid`.
    pub fn add_pem(&mut self, pem: &str) -> Result<String, TokenError> {
        let key = SigningKey::from_pkcs8_pem(pem.trim())
            .map_err(|e| TokenError::InvalidKey(e.to_string()))?;
        self.push(key)
    }

    /// Build from PEMs ordered oldest → newest (the last one signs).
    pub fn from_pems<I, S>(pems: I) -> Result<Self, TokenError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut k = Self::new();
        for p in pems {
            k.add_pem(p.as_ref())?;
        }
        Ok(k)
    }

    /// All keys as PKCS#8 PEM, oldest → newest, zeroized on drop.
    pub fn to_pems(&self) -> Result<Vec<Zeroizing<String>>, TokenError> {
        self.keys
            .iter()
            .map(|e| {
                e.key
                    .to_pkcs8_pem(LineEnding::LF)
                    .map_err(|err| TokenError::InvalidKey(err.to_string()))
            })
            .collect()
    }

    /// Drop a retired key. Returns whether it was present.
    pub fn remove(&mut self, kid: &str) -> bool {
        let before = self.keys.len();
        self.keys.retain(|e| e.kid != kid);
        before != self.keys.len()
    }

    /// `kid` of the key that signs new tokens.
    pub fn active_kid(&self) -> Option<&str> {
        self.keys.last().map(|e| e.kid.as_str())
    }

    /// All key ids, oldest → newest.
    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().map(|e| e.kid.as_str()).collect()
    }

    /// The verification half, for [`TokenVerifier`] and for nodes that must not sign.
    pub fn public_keys(&self) -> PublicKeyring {
        PublicKeyring {
            keys: self
                .keys
                .iter()
                .map(|e| (e.kid.clone(), e.key.verifying_key()))
                .collect(),
        }
    }

    /// The JWKS document for `/.well-known/jwks.json`.
    pub fn jwks(&self) -> Value {
        self.public_keys().jwks()
    }
}

/// Ed25519 public keys by `kid`: everything needed to verify local tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicKeyring {
    keys: Vec<(String, VerifyingKey)>,
}

impl PublicKeyring {
    /// Look up a key by id.
    pub fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.keys.iter().find(|(k, _)| k == kid).map(|(_, v)| v)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The JWKS document (`{"keys":[{"kty":"OKP","crv":"Ed25519",…}]}`).
    pub fn jwks(&self) -> Value {
        json!({ "keys": self.keys.iter().map(|(kid, k)| ed25519_jwk(kid, k)).collect::<Vec<_>>() })
    }

    /// Parse our own JWKS (e.g. an edge fetching the key server's). Only OKP/Ed25519
    /// entries with a `kid` are taken; anything else is ignored.
    pub fn from_jwks(json: &str) -> Result<Self, TokenError> {
        let set: JwkSet =
            serde_json::from_str(json).map_err(|e| TokenError::InvalidKey(e.to_string()))?;
        let mut keys = Vec::new();
        for jwk in &set.keys {
            let (Some(kid), AlgorithmParameters::OctetKeyPair(p)) =
                (&jwk.common.key_id, &jwk.algorithm)
            else {
                continue;
            };
            if p.curve != EllipticCurve::Ed25519 {
                continue;
            }
            let raw = URL_SAFE_NO_PAD
                .decode(&p.x)
                .map_err(|e| TokenError::InvalidKey(e.to_string()))?;
            let arr: [u8; 32] = raw
                .as_slice()
                .try_into()
                .map_err(|_| TokenError::InvalidKey("ed25519 x must be 32 bytes".into()))?;
            let vk = VerifyingKey::from_bytes(&arr)
                .map_err(|e| TokenError::InvalidKey(e.to_string()))?;
            keys.push((kid.clone(), vk));
        }
        Ok(Self { keys })
    }
}

/// Mints local access tokens with the newest key of a [`SigningKeyring`].
#[derive(Debug)]
pub struct TokenIssuer {
    keyring: SigningKeyring,
    issuer: String,
    audience: String,
    default_ttl: Duration,
}

impl TokenIssuer {
    /// `issuer`/`audience` must match the verifier's [`VerifierConfig`].
    pub fn new(
        keyring: SigningKeyring,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Self {
        Self {
            keyring,
            issuer: issuer.into(),
            audience: audience.into(),
            default_ttl: DEFAULT_TOKEN_TTL,
        }
    }

    /// Change the default TTL (clamped to [`MAX_TOKEN_TTL`]).
    pub fn with_default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = ttl.min(MAX_TOKEN_TTL);
        self
    }

    /// The keyring (e.g. to serve its JWKS).
    pub fn keyring(&self) -> &SigningKeyring {
        &self.keyring
    }

    /// Mutable keyring, for rotation.
    pub fn keyring_mut(&mut self) -> &mut SigningKeyring {
        &mut self.keyring
    }

    /// Issue a token for `user_id`. `ttl = None` uses the default (15 min); any TTL is
    /// clamped to [`MAX_TOKEN_TTL`]. Returns `(token, expires_in_seconds)`.
    pub fn issue(
        &self,
        user_id: &str,
        role: Role,
        ttl: Option<Duration>,
    ) -> Result<(String, u64), TokenError> {
        self.issue_at(user_id, role, ttl, unix_now())
    }

    /// [`issue`](Self::issue) with an explicit "now" (unix seconds), for tests.
    pub fn issue_at(
        &self,
        user_id: &str,
        role: Role,
        ttl: Option<Duration>,
        now: u64,
    ) -> Result<(String, u64), TokenError> {
        let entry = self
            .keyring
            .keys
            .last()
            .ok_or_else(|| TokenError::Config("signing keyring is empty".into()))?;
        if user_id.is_empty() {
            return Err(TokenError::MissingClaim("sub".into()));
        }
        let ttl = ttl
            .unwrap_or(self.default_ttl)
            .min(MAX_TOKEN_TTL)
            .as_secs()
            .max(1);
        let mut jti = [0u8; 16];
        rand::RngCore::fill_bytes(&mut OsRng, &mut jti);
        let claims = Claims {
            sub: user_id.to_owned(),
            role,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            exp: now + ttl,
            nbf: now,
            iat: now,
            jti: URL_SAFE_NO_PAD.encode(jti),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(entry.kid.clone());
        let token =
            jsonwebtoken::encode(&header, &claims, &entry.encoding).map_err(map_jwt_error)?;
        Ok((token, ttl))
    }
}

/// Local verification settings.
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// Our `iss`.
    pub issuer: String,
    /// Our `aud`.
    pub audience: String,
    /// Clock-skew leeway for `exp`/`nbf`, clamped to [`MAX_LEEWAY_SECS`].
    pub leeway_secs: u64,
}

impl VerifierConfig {
    /// Config with the default leeway (30 s).
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            leeway_secs: MAX_LEEWAY_SECS,
        }
    }
}

/// Algorithms accepted from the external issuer (exactly one is pinned).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExternalAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// Ed25519.
    EdDSA,
}

impl ExternalAlgorithm {
    fn jwt(self) -> Algorithm {
        match self {
            Self::RS256 => Algorithm::RS256,
            Self::ES256 => Algorithm::ES256,
            Self::EdDSA => Algorithm::EdDSA,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }
}

impl FromStr for ExternalAlgorithm {
    type Err = TokenError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "RS256" => Ok(Self::RS256),
            "ES256" => Ok(Self::ES256),
            "EdDSA" => Ok(Self::EdDSA),
            other => Err(TokenError::Config(format!(
                "unsupported external algorithm {other}"
            ))),
        }
    }
}

/// How the external issuer's public key(s) are given.
#[derive(Debug, Clone)]
pub enum ExternalKeySource {
    /// One public key as PEM (`-----BEGIN PUBLIC KEY-----`, or `RSA PUBLIC KEY` for RS256).
    Pem(String),
    /// A JWKS JSON document (the root crate fetches the URL and calls
    /// [`TokenVerifier::refresh_jwks`] periodically).
    Jwks(String),
}

/// Configuration of the one trusted external identity provider.
#[derive(Debug, Clone)]
pub struct ExternalIssuerConfig {
    /// Exact `iss` value; must differ from the local issuer.
    pub issuer: String,
    /// Audience we expect in its tokens.
    pub audience: String,
    /// The pinned algorithm.
    pub algorithm: ExternalAlgorithm,
    /// Key material.
    pub key: ExternalKeySource,
    /// Claim naming the user (default `sub`).
    pub user_claim: String,
    /// Claim naming the role (default `role`; missing or unknown → learner).
    pub role_claim: String,
}

impl ExternalIssuerConfig {
    /// Config with default `user_claim = "sub"` and `role_claim = "role"`.
    pub fn new(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        algorithm: ExternalAlgorithm,
        key: ExternalKeySource,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            algorithm,
            key,
            user_claim: "sub".into(),
            role_claim: "role".into(),
        }
    }
}

enum ExternalKeys {
    Single(DecodingKey),
    Set(Vec<(Option<String>, DecodingKey)>),
}

struct External {
    cfg: ExternalIssuerConfig,
    keys: RwLock<ExternalKeys>,
}

fn external_pem_key(alg: ExternalAlgorithm, pem: &str) -> Result<DecodingKey, TokenError> {
    let b = pem.trim().as_bytes();
    match alg {
        ExternalAlgorithm::RS256 => DecodingKey::from_rsa_pem(b),
        ExternalAlgorithm::ES256 => DecodingKey::from_ec_pem(b),
        ExternalAlgorithm::EdDSA => DecodingKey::from_ed_pem(b),
    }
    .map_err(|e| TokenError::InvalidKey(e.to_string()))
}

/// Parse a JWKS, keeping only signature keys usable with the pinned algorithm.
fn external_jwks_keys(
    alg: ExternalAlgorithm,
    json: &str,
) -> Result<Vec<(Option<String>, DecodingKey)>, TokenError> {
    let set: JwkSet =
        serde_json::from_str(json).map_err(|e| TokenError::InvalidKey(e.to_string()))?;
    let mut out = Vec::new();
    for jwk in &set.keys {
        if let Some(u) = &jwk.common.public_key_use {
            if *u != jsonwebtoken::jwk::PublicKeyUse::Signature {
                continue;
            }
        }
        if let Some(ka) = &jwk.common.key_algorithm {
            if ka.to_string() != alg.name() {
                continue;
            }
        }
        let fits = match (&jwk.algorithm, alg) {
            (AlgorithmParameters::RSA(_), ExternalAlgorithm::RS256) => true,
            (AlgorithmParameters::EllipticCurve(p), ExternalAlgorithm::ES256) => {
                p.curve == EllipticCurve::P256
            }
            (AlgorithmParameters::OctetKeyPair(p), ExternalAlgorithm::EdDSA) => {
                p.curve == EllipticCurve::Ed25519
            }
            _ => false,
        };
        if !fits {
            continue;
        }
        let key = DecodingKey::from_jwk(jwk).map_err(|e| TokenError::InvalidKey(e.to_string()))?;
        out.push((jwk.common.key_id.clone(), key));
    }
    if out.is_empty() {
        return Err(TokenError::InvalidKey(format!(
            "JWKS has no usable {} signature key",
            alg.name()
        )));
    }
    Ok(out)
}

/// Verifies local and (optionally) external access tokens. Holds only public keys.
pub struct TokenVerifier {
    cfg: VerifierConfig,
    local: RwLock<PublicKeyring>,
    external: Option<External>,
}

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("issuer", &self.cfg.issuer)
            .field("audience", &self.cfg.audience)
            .field(
                "external_issuer",
                &self.external.as_ref().map(|e| e.cfg.issuer.clone()),
            )
            .finish()
    }
}

#[derive(Deserialize)]
struct RawHeader {
    alg: Option<Value>,
    kid: Option<String>,
}

/// Decode a base64url JSON segment (header or payload) without trusting it.
fn peek_segment<T: serde::de::DeserializeOwned>(seg: &str) -> Result<T, TokenError> {
    let raw = URL_SAFE_NO_PAD
        .decode(seg)
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&raw).map_err(|_| TokenError::Malformed)
}

fn split_token(token: &str) -> Result<(&str, &str, &str), TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed);
    }
    let mut it = token.split('.');
    match (it.next(), it.next(), it.next(), it.next()) {
        (Some(h), Some(p), Some(s), None) if !h.is_empty() && !p.is_empty() => Ok((h, p, s)),
        _ => Err(TokenError::Malformed),
    }
}

fn base_validation(alg: Algorithm, iss: &str, aud: &str) -> Validation {
    let mut v = Validation::new(alg);
    v.set_issuer(&[iss]);
    v.set_audience(&[aud]);
    // Time claims are checked by us against an injectable `now`.
    v.validate_exp = false;
    v.validate_nbf = false;
    v.leeway = 0;
    v.required_spec_claims = ["iss", "aud"]
        .iter()
        .map(|s| s.to_string())
        .collect::<HashSet<_>>();
    v
}

fn check_times(exp: u64, nbf: Option<u64>, now: u64, leeway: u64) -> Result<(), TokenError> {
    if exp.saturating_add(leeway) <= now {
        return Err(TokenError::Expired);
    }
    if let Some(nbf) = nbf {
        if nbf > now.saturating_add(leeway) {
            return Err(TokenError::NotYetValid);
        }
    }
    Ok(())
}

fn claim_u64(v: &Value, name: &str) -> Result<Option<u64>, TokenError> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .map(Some)
            .ok_or_else(|| TokenError::MissingClaim(name.into())),
        Some(_) => Err(TokenError::MissingClaim(name.into())),
    }
}

fn role_from_claim(v: Option<&Value>) -> Role {
    // Least privilege: missing or unrecognised → learner; an array takes its highest known role.
    match v {
        Some(Value::String(s)) => s.parse().unwrap_or(Role::Learner),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().and_then(|s| s.parse::<Role>().ok()))
            .max()
            .unwrap_or(Role::Learner),
        _ => Role::Learner,
    }
}

impl TokenVerifier {
    /// A verifier for local tokens only.
    pub fn new(cfg: VerifierConfig, local: PublicKeyring) -> Self {
        let cfg = VerifierConfig {
            leeway_secs: cfg.leeway_secs.min(MAX_LEEWAY_SECS),
            ..cfg
        };
        Self {
            cfg,
            local: RwLock::new(local),
            external: None,
        }
    }

    /// Also accept tokens from one external issuer. Its `iss` must differ from ours,
    /// otherwise routing by `iss` would be ambiguous.
    pub fn with_external(mut self, ext: ExternalIssuerConfig) -> Result<Self, TokenError> {
        if ext.issuer == self.cfg.issuer {
            return Err(TokenError::Config(
                "external issuer must differ from the local issuer".into(),
            ));
        }
        if ext.issuer.is_empty() || ext.audience.is_empty() || ext.user_claim.is_empty() {
            return Err(TokenError::Config(
                "external issuer, audience and user_claim must be non-empty".into(),
            ));
        }
        let keys = match &ext.key {
            ExternalKeySource::Pem(p) => ExternalKeys::Single(external_pem_key(ext.algorithm, p)?),
            ExternalKeySource::Jwks(j) => ExternalKeys::Set(external_jwks_keys(ext.algorithm, j)?),
        };
        self.external = Some(External {
            cfg: ext,
            keys: RwLock::new(keys),
        });
        Ok(self)
    }

    /// Replace the local public keys (after a signing-key rotation).
    pub fn set_local_keys(&self, keys: PublicKeyring) {
        *self.local.write().unwrap_or_else(|e| e.into_inner()) = keys;
    }

    /// The local JWKS document for `/.well-known/jwks.json`.
    pub fn jwks(&self) -> Value {
        self.local.read().unwrap_or_else(|e| e.into_inner()).jwks()
    }

    /// Replace the external issuer's keys with a freshly fetched JWKS document.
    /// On error the previous keys stay in place. Returns the number of usable keys.
    pub fn refresh_jwks(&self, json: &str) -> Result<usize, TokenError> {
        let ext = self
            .external
            .as_ref()
            .ok_or_else(|| TokenError::Config("no external issuer configured".into()))?;
        let keys = external_jwks_keys(ext.cfg.algorithm, json)?;
        let n = keys.len();
        *ext.keys.write().unwrap_or_else(|e| e.into_inner()) = ExternalKeys::Set(keys);
        Ok(n)
    }

    /// Verify a token now.
    pub fn verify(&self, token: &str) -> Result<VerifiedIdentity, TokenError> {
        self.verify_at(token, unix_now())
    }

    /// Verify a token as of `now` (unix seconds).
    pub fn verify_at(&self, token: &str, now: u64) -> Result<VerifiedIdentity, TokenError> {
        let (h, p, _) = split_token(token)?;
        let header: RawHeader = peek_segment(h)?;
        let payload: Value = peek_segment(p)?;
        // Route by the (unverified) iss; the chosen path then verifies iss itself.
        let iss = payload.get("iss").and_then(Value::as_str);
        match (&self.external, iss) {
            (Some(ext), Some(i)) if i == ext.cfg.issuer => {
                self.verify_external(ext, token, &header, now)
            }
            _ => self.verify_local(token, &header, now),
        }
    }

    fn verify_local(
        &self,
        token: &str,
        header: &RawHeader,
        now: u64,
    ) -> Result<VerifiedIdentity, TokenError> {
        if header.alg.as_ref().and_then(Value::as_str) != Some("EdDSA") {
            return Err(TokenError::AlgorithmNotAllowed);
        }
        let kid = header.kid.as_deref().ok_or(TokenError::UnknownKid)?;
        let key = {
            let ring = self.local.read().unwrap_or_else(|e| e.into_inner());
            let vk = ring.get(kid).ok_or(TokenError::UnknownKid)?;
            DecodingKey::from_ed_der(vk.as_bytes())
        };
        let validation = base_validation(Algorithm::EdDSA, &self.cfg.issuer, &self.cfg.audience);
        let data =
            jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(map_jwt_error)?;
        let c = data.claims;
        check_times(c.exp, Some(c.nbf), now, self.cfg.leeway_secs)?;
        if c.sub.is_empty() {
            return Err(TokenError::MissingClaim("sub".into()));
        }
        Ok(VerifiedIdentity {
            user_id: c.sub,
            role: c.role,
            issuer: Issuer::Local,
            expires_at: c.exp,
        })
    }

    fn verify_external(
        &self,
        ext: &External,
        token: &str,
        header: &RawHeader,
        now: u64,
    ) -> Result<VerifiedIdentity, TokenError> {
        if header.alg.as_ref().and_then(Value::as_str) != Some(ext.cfg.algorithm.name()) {
            return Err(TokenError::AlgorithmNotAllowed);
        }
        let key = {
            let keys = ext.keys.read().unwrap_or_else(|e| e.into_inner());
            match &*keys {
                ExternalKeys::Single(k) => k.clone(),
                ExternalKeys::Set(set) => match header.kid.as_deref() {
                    Some(kid) => set
                        .iter()
                        .find(|(k, _)| k.as_deref() == Some(kid))
                        .map(|(_, k)| k.clone())
                        .ok_or(TokenError::UnknownKid)?,
                    None if set.len() == 1 => set[0].1.clone(),
                    None => return Err(TokenError::UnknownKid),
                },
            }
        };
        let validation =
            base_validation(ext.cfg.algorithm.jwt(), &ext.cfg.issuer, &ext.cfg.audience);
        let data =
            jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(map_jwt_error)?;
        let c = data.claims;
        let exp = claim_u64(&c, "exp")?.ok_or_else(|| TokenError::MissingClaim("exp".into()))?;
        let nbf = claim_u64(&c, "nbf")?;
        check_times(exp, nbf, now, self.cfg.leeway_secs)?;
        let user_id = match c.get(&ext.cfg.user_claim) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(TokenError::MissingClaim(ext.cfg.user_claim.clone())),
        };
        Ok(VerifiedIdentity {
            user_id,
            role: role_from_claim(c.get(&ext.cfg.role_claim)),
            issuer: Issuer::External,
            expires_at: exp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::pkcs8::EncodePublicKey;

    const ISS: &str = "https://sealcast.test";
    const AUD: &str = "sealcast";
    const NOW: u64 = 1_700_000_000;
    const EXT_ISS: &str = "https://idp.example.test";
    const EXT_AUD: &str = "sealcast-ext";

    const RSA_PRIV: &str = include_str!("testdata/ext_rsa_private.pem");
    const RSA_PUB: &str = include_str!("testdata/ext_rsa_public.pem");
    const EC_PRIV: &str = include_str!("testdata/ext_ec_private.pem");
    const EC_PUB: &str = include_str!("testdata/ext_ec_public.pem");
    const EXT_JWKS: &str = include_str!("testdata/ext_jwks.json");

    fn setup() -> (TokenIssuer, TokenVerifier) {
        let ring = SigningKeyring::generate();
        let verifier = TokenVerifier::new(VerifierConfig::new(ISS, AUD), ring.public_keys());
        (TokenIssuer::new(ring, ISS, AUD), verifier)
    }

    fn b64(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    fn claims_json(now: u64) -> Value {
        json!({"sub":"u1","role":"learner","iss":ISS,"aud":AUD,"exp":now+600,"nbf":now,"iat":now,"jti":"j"})
    }

    /// Sign arbitrary claims with a keyring's active key (to test claim checks).
    fn sign_raw(ring: &SigningKeyring, claims: &Value) -> String {
        let e = ring.keys.last().unwrap();
        let mut h = Header::new(Algorithm::EdDSA);
        h.kid = Some(e.kid.clone());
        jsonwebtoken::encode(&h, claims, &e.encoding).unwrap()
    }

    #[test]
    fn issue_and_verify_roundtrip() {
        let (issuer, verifier) = setup();
        let (tok, expires_in) = issuer.issue_at("user-7", Role::Creator, None, NOW).unwrap();
        assert_eq!(expires_in, 900);
        let id = verifier.verify_at(&tok, NOW + 1).unwrap();
        assert_eq!(
            id,
            VerifiedIdentity {
                user_id: "user-7".into(),
                role: Role::Creator,
                issuer: Issuer::Local,
                expires_at: NOW + 900,
            }
        );
        let h = jsonwebtoken::decode_header(&tok).unwrap();
        assert_eq!(h.alg, Algorithm::EdDSA);
        assert_eq!(h.kid.as_deref(), issuer.keyring().active_kid());
        // Real-clock path works too.
        let (tok, _) = issuer
            .issue("u", Role::Admin, Some(Duration::from_secs(60)))
            .unwrap();
        assert_eq!(verifier.verify(&tok).unwrap().role, Role::Admin);
        // TTL is clamped.
        let (_, e) = issuer
            .issue_at("u", Role::Admin, Some(Duration::from_secs(10 * 86400)), NOW)
            .unwrap();
        assert_eq!(e, MAX_TOKEN_TTL.as_secs());
    }

    #[test]
    fn expired_rejected_with_small_leeway() {
        let (issuer, verifier) = setup();
        let (tok, _) = issuer
            .issue_at("u", Role::Learner, Some(Duration::from_secs(60)), NOW)
            .unwrap();
        assert!(verifier.verify_at(&tok, NOW + 60 + 29).is_ok());
        assert_eq!(
            verifier.verify_at(&tok, NOW + 60 + 30),
            Err(TokenError::Expired)
        );
        assert_eq!(
            verifier.verify_at(&tok, NOW + 10_000),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn leeway_is_capped() {
        let ring = SigningKeyring::generate();
        let cfg = VerifierConfig {
            leeway_secs: 3600,
            ..VerifierConfig::new(ISS, AUD)
        };
        let v = TokenVerifier::new(cfg, ring.public_keys());
        let issuer = TokenIssuer::new(ring, ISS, AUD);
        let (tok, _) = issuer
            .issue_at("u", Role::Learner, Some(Duration::from_secs(60)), NOW)
            .unwrap();
        assert_eq!(v.verify_at(&tok, NOW + 60 + 31), Err(TokenError::Expired));
    }

    #[test]
    fn nbf_in_future_rejected() {
        let (issuer, verifier) = setup();
        let (tok, _) = issuer
            .issue_at("u", Role::Learner, None, NOW + 120)
            .unwrap();
        assert_eq!(verifier.verify_at(&tok, NOW), Err(TokenError::NotYetValid));
        assert!(verifier.verify_at(&tok, NOW + 100).is_ok()); // within leeway
    }

    #[test]
    fn wrong_iss_and_aud_rejected() {
        let (issuer, verifier) = setup();
        let mut c = claims_json(NOW);
        c["iss"] = json!("https://evil.test");
        let tok = sign_raw(issuer.keyring(), &c);
        assert_eq!(verifier.verify_at(&tok, NOW), Err(TokenError::WrongIssuer));
        let mut c = claims_json(NOW);
        c["aud"] = json!("other-service");
        let tok = sign_raw(issuer.keyring(), &c);
        assert_eq!(
            verifier.verify_at(&tok, NOW),
            Err(TokenError::WrongAudience)
        );
        let mut c = claims_json(NOW);
        c.as_object_mut().unwrap().remove("aud");
        let tok = sign_raw(issuer.keyring(), &c);
        assert!(verifier.verify_at(&tok, NOW).is_err());
        // A verifier for another audience rejects our tokens.
        let v2 = TokenVerifier::new(
            VerifierConfig::new(ISS, "other"),
            issuer.keyring().public_keys(),
        );
        let (tok, _) = issuer.issue_at("u", Role::Learner, None, NOW).unwrap();
        assert_eq!(v2.verify_at(&tok, NOW), Err(TokenError::WrongAudience));
    }

    #[test]
    fn missing_or_bad_claims_rejected() {
        let (issuer, verifier) = setup();
        for field in ["exp", "nbf", "sub", "role", "iss"] {
            let mut c = claims_json(NOW);
            c.as_object_mut().unwrap().remove(field);
            let tok = sign_raw(issuer.keyring(), &c);
            assert!(verifier.verify_at(&tok, NOW).is_err(), "{field}");
        }
        let mut c = claims_json(NOW);
        c["role"] = json!("superuser");
        assert!(verifier
            .verify_at(&sign_raw(issuer.keyring(), &c), NOW)
            .is_err());
    }

    #[test]
    fn alg_none_rejected() {
        let (issuer, verifier) = setup();
        let kid = issuer.keyring().active_kid().unwrap().to_owned();
        for alg in ["none", "None", "NONE"] {
            let h = json!({"alg": alg, "typ": "JWT", "kid": kid});
            let tok = format!("{}.{}.", b64(&h), b64(&claims_json(NOW)));
            assert_eq!(
                verifier.verify_at(&tok, NOW),
                Err(TokenError::AlgorithmNotAllowed)
            );
        }
        let h = json!({"typ": "JWT", "kid": kid});
        let tok = format!("{}.{}.", b64(&h), b64(&claims_json(NOW)));
        assert_eq!(
            verifier.verify_at(&tok, NOW),
            Err(TokenError::AlgorithmNotAllowed)
        );
    }

    #[test]
    fn hs256_with_public_key_as_secret_rejected() {
        let (issuer, verifier) = setup();
        let ring = issuer.keyring();
        let kid = ring.active_kid().unwrap().to_owned();
        let vk = *ring.public_keys().get(&kid).unwrap();
        let pem = vk.to_public_key_pem(LineEnding::LF).unwrap();
        let x = URL_SAFE_NO_PAD.encode(vk.as_bytes());
        for secret in [vk.as_bytes().to_vec(), pem.into_bytes(), x.into_bytes()] {
            for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
                let mut h = Header::new(alg);
                h.kid = Some(kid.clone());
                let tok =
                    jsonwebtoken::encode(&h, &claims_json(NOW), &EncodingKey::from_secret(&secret))
                        .unwrap();
                assert_eq!(
                    verifier.verify_at(&tok, NOW),
                    Err(TokenError::AlgorithmNotAllowed)
                );
            }
        }
    }

    #[test]
    fn forged_signature_rejected() {
        let (issuer, verifier) = setup();
        let kid = issuer.keyring().active_kid().unwrap().to_owned();
        // Attacker signs with their own key but claims our kid.
        let attacker = SigningKeyring::generate();
        let e = attacker.keys.last().unwrap();
        let mut h = Header::new(Algorithm::EdDSA);
        h.kid = Some(kid);
        let tok = jsonwebtoken::encode(&h, &claims_json(NOW), &e.encoding).unwrap();
        assert_eq!(verifier.verify_at(&tok, NOW), Err(TokenError::BadSignature));
        // Tampered payload with the original signature.
        let (good, _) = issuer.issue_at("u1", Role::Learner, None, NOW).unwrap();
        let parts: Vec<&str> = good.split('.').collect();
        let mut c = claims_json(NOW);
        c["role"] = json!("admin");
        c["exp"] = json!(NOW + 900);
        let tampered = format!("{}.{}.{}", parts[0], b64(&c), parts[2]);
        assert_eq!(
            verifier.verify_at(&tampered, NOW),
            Err(TokenError::BadSignature)
        );
        // Flipped signature bytes.
        let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        sig[5] ^= 1;
        let flipped = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(sig));
        assert_eq!(
            verifier.verify_at(&flipped, NOW),
            Err(TokenError::BadSignature)
        );
        // Garbage.
        for g in ["", "a.b", "a.b.c.d", "!!!.???.###", &"a".repeat(20_000)] {
            assert!(verifier.verify_at(g, NOW).is_err());
        }
    }

    #[test]
    fn unknown_kid_rejected() {
        let (issuer, verifier) = setup();
        let attacker = SigningKeyring::generate();
        let tok = sign_raw(&attacker, &claims_json(NOW));
        assert_eq!(verifier.verify_at(&tok, NOW), Err(TokenError::UnknownKid));
        // Missing kid.
        let e = issuer.keyring().keys.last().unwrap();
        let tok = jsonwebtoken::encode(
            &Header::new(Algorithm::EdDSA),
            &claims_json(NOW),
            &e.encoding,
        )
        .unwrap();
        assert_eq!(verifier.verify_at(&tok, NOW), Err(TokenError::UnknownKid));
    }

    #[test]
    fn rotated_out_key_still_verifies_until_removed() {
        let ring = SigningKeyring::generate();
        let mut issuer = TokenIssuer::new(ring, ISS, AUD);
        let old_kid = issuer.keyring().active_kid().unwrap().to_owned();
        let (old_tok, _) = issuer.issue_at("u", Role::Learner, None, NOW).unwrap();
        let new_kid = issuer.keyring_mut().rotate();
        assert_ne!(old_kid, new_kid);
        let (new_tok, _) = issuer.issue_at("u", Role::Learner, None, NOW).unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&new_tok)
                .unwrap()
                .kid
                .as_deref(),
            Some(new_kid.as_str())
        );
        let verifier = TokenVerifier::new(
            VerifierConfig::new(ISS, AUD),
            issuer.keyring().public_keys(),
        );
        assert!(verifier.verify_at(&old_tok, NOW).is_ok());
        assert!(verifier.verify_at(&new_tok, NOW).is_ok());
        assert_eq!(verifier.jwks()["keys"].as_array().unwrap().len(), 2);
        assert!(issuer.keyring_mut().remove(&old_kid));
        verifier.set_local_keys(issuer.keyring().public_keys());
        assert_eq!(
            verifier.verify_at(&old_tok, NOW),
            Err(TokenError::UnknownKid)
        );
        assert!(verifier.verify_at(&new_tok, NOW).is_ok());
    }

    #[test]
    fn pem_roundtrip_keeps_kids_and_order() {
        let mut ring = SigningKeyring::generate();
        ring.rotate();
        let pems = ring.to_pems().unwrap();
        assert!(pems[0].starts_with("-----BEGIN PRIVATE KEY-----"));
        let back = SigningKeyring::from_pems(pems.iter().map(|p| p.as_str())).unwrap();
        assert_eq!(back.kids(), ring.kids());
        assert_eq!(back.active_kid(), ring.active_kid());
        assert!(SigningKeyring::new().add_pem("garbage").is_err());
        let dbg = format!("{ring:?}");
        assert!(!dbg.contains("PRIVATE"));
        // An empty keyring cannot issue.
        let issuer = TokenIssuer::new(SigningKeyring::new(), ISS, AUD);
        assert!(matches!(
            issuer.issue_at("u", Role::Learner, None, NOW),
            Err(TokenError::Config(_))
        ));
    }

    #[test]
    fn jwks_shape_and_roundtrip() {
        let ring = SigningKeyring::generate();
        let j = ring.jwks();
        let k = &j["keys"][0];
        assert_eq!(k["kty"], "OKP");
        assert_eq!(k["crv"], "Ed25519");
        assert_eq!(k["alg"], "EdDSA");
        assert_eq!(k["use"], "sig");
        assert_eq!(k["kid"], ring.active_kid().unwrap());
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(k["x"].as_str().unwrap())
                .unwrap()
                .len(),
            32
        );
        assert!(k.get("d").is_none());
        let pk = PublicKeyring::from_jwks(&j.to_string()).unwrap();
        assert_eq!(pk, ring.public_keys());
        // An edge that only has the JWKS can verify.
        let v = TokenVerifier::new(VerifierConfig::new(ISS, AUD), pk);
        let issuer = TokenIssuer::new(ring, ISS, AUD);
        let (tok, _) = issuer.issue_at("u", Role::Learner, None, NOW).unwrap();
        assert!(v.verify_at(&tok, NOW).is_ok());
    }

    fn ext_verifier(
        local: &SigningKeyring,
        alg: ExternalAlgorithm,
        key: ExternalKeySource,
    ) -> TokenVerifier {
        TokenVerifier::new(VerifierConfig::new(ISS, AUD), local.public_keys())
            .with_external(ExternalIssuerConfig::new(EXT_ISS, EXT_AUD, alg, key))
            .unwrap()
    }

    fn ext_token(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: &Value) -> String {
        let mut h = Header::new(alg);
        h.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&h, claims, key).unwrap()
    }

    fn ext_claims() -> Value {
        json!({"sub":"ext-user","role":"creator","iss":EXT_ISS,"aud":EXT_AUD,"exp":NOW+300,"iat":NOW})
    }

    #[test]
    fn external_rs256_pem_roundtrip() {
        let local = SigningKeyring::generate();
        let v = ext_verifier(
            &local,
            ExternalAlgorithm::RS256,
            ExternalKeySource::Pem(RSA_PUB.into()),
        );
        let k = EncodingKey::from_rsa_pem(RSA_PRIV.as_bytes()).unwrap();
        let tok = ext_token(Algorithm::RS256, None, &k, &ext_claims());
        let id = v.verify_at(&tok, NOW).unwrap();
        assert_eq!(id.user_id, "ext-user");
        assert_eq!(id.role, Role::Creator);
        assert_eq!(id.issuer, Issuer::External);
        assert_eq!(id.expires_at, NOW + 300);
        // Expired / wrong audience / nbf in future.
        assert_eq!(v.verify_at(&tok, NOW + 400), Err(TokenError::Expired));
        let mut c = ext_claims();
        c["aud"] = json!(AUD);
        assert_eq!(
            v.verify_at(&ext_token(Algorithm::RS256, None, &k, &c), NOW),
            Err(TokenError::WrongAudience)
        );
        let mut c = ext_claims();
        c["nbf"] = json!(NOW + 100);
        assert_eq!(
            v.verify_at(&ext_token(Algorithm::RS256, None, &k, &c), NOW),
            Err(TokenError::NotYetValid)
        );
        // Missing exp.
        let mut c = ext_claims();
        c.as_object_mut().unwrap().remove("exp");
        assert!(v
            .verify_at(&ext_token(Algorithm::RS256, None, &k, &c), NOW)
            .is_err());
        // Audience as an array is fine.
        let mut c = ext_claims();
        c["aud"] = json!(["x", EXT_AUD]);
        assert!(v
            .verify_at(&ext_token(Algorithm::RS256, None, &k, &c), NOW)
            .is_ok());
    }

    #[test]
    fn external_pins_its_algorithm() {
        let local = SigningKeyring::generate();
        let v = ext_verifier(
            &local,
            ExternalAlgorithm::RS256,
            ExternalKeySource::Pem(RSA_PUB.into()),
        );
        // HS256 keyed with the RSA public PEM (classic confusion attack).
        let tok = ext_token(
            Algorithm::HS256,
            None,
            &EncodingKey::from_secret(RSA_PUB.as_bytes()),
            &ext_claims(),
        );
        assert_eq!(v.verify_at(&tok, NOW), Err(TokenError::AlgorithmNotAllowed));
        // ES256 token to an RS256-pinned issuer.
        let ec = EncodingKey::from_ec_pem(EC_PRIV.as_bytes()).unwrap();
        let tok = ext_token(Algorithm::ES256, None, &ec, &ext_claims());
        assert_eq!(v.verify_at(&tok, NOW), Err(TokenError::AlgorithmNotAllowed));
        // alg none.
        let tok = format!("{}.{}.", b64(&json!({"alg":"none"})), b64(&ext_claims()));
        assert_eq!(v.verify_at(&tok, NOW), Err(TokenError::AlgorithmNotAllowed));
        // Our local EdDSA key signing a token that claims the external iss: rejected.
        let tok = sign_raw(&local, &ext_claims());
        assert_eq!(v.verify_at(&tok, NOW), Err(TokenError::AlgorithmNotAllowed));
    }

    #[test]
    fn external_es256_jwks_roundtrip_and_refresh() {
        let local = SigningKeyring::generate();
        let v = ext_verifier(
            &local,
            ExternalAlgorithm::ES256,
            ExternalKeySource::Jwks(EXT_JWKS.into()),
        );
        let ec = EncodingKey::from_ec_pem(EC_PRIV.as_bytes()).unwrap();
        let tok = ext_token(Algorithm::ES256, Some("ext-ec-1"), &ec, &ext_claims());
        assert_eq!(v.verify_at(&tok, NOW).unwrap().user_id, "ext-user");
        // The only ES256 key is picked even without a kid.
        let tok_nokid = ext_token(Algorithm::ES256, None, &ec, &ext_claims());
        assert!(v.verify_at(&tok_nokid, NOW).is_ok());
        // Unknown kid.
        let tok_bad = ext_token(Algorithm::ES256, Some("nope"), &ec, &ext_claims());
        assert_eq!(v.verify_at(&tok_bad, NOW), Err(TokenError::UnknownKid));
        // Refresh with a JWKS that no longer has the key → old kid unknown.
        let mut j: Value = serde_json::from_str(EXT_JWKS).unwrap();
        j["keys"][1]["kid"] = json!("ext-ec-2");
        assert_eq!(v.refresh_jwks(&j.to_string()).unwrap(), 1);
        assert_eq!(v.verify_at(&tok, NOW), Err(TokenError::UnknownKid));
        let tok2 = ext_token(Algorithm::ES256, Some("ext-ec-2"), &ec, &ext_claims());
        assert!(v.verify_at(&tok2, NOW).is_ok());
        // A broken refresh keeps the previous keys.
        assert!(v.refresh_jwks("{\"keys\":[]}").is_err());
        assert!(v.refresh_jwks("not json").is_err());
        assert!(v.verify_at(&tok2, NOW).is_ok());
        // The same key given as a PEM works too.
        let v_pem = ext_verifier(
            &local,
            ExternalAlgorithm::ES256,
            ExternalKeySource::Pem(EC_PUB.into()),
        );
        assert!(v_pem.verify_at(&tok_nokid, NOW).is_ok());
        // Forged: an RSA-signed token relabelled as ES256 with the right kid.
        let parts: Vec<String> = tok.split('.').map(str::to_owned).collect();
        let k = EncodingKey::from_rsa_pem(RSA_PRIV.as_bytes()).unwrap();
        let rsa_tok = ext_token(Algorithm::RS256, Some("ext-ec-1"), &k, &ext_claims());
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            rsa_tok.split('.').nth(2).unwrap()
        );
        assert!(v_pem.verify_at(&forged, NOW).is_err());
    }

    #[test]
    fn external_rs256_jwks_and_custom_claims() {
        let local = SigningKeyring::generate();
        let mut cfg = ExternalIssuerConfig::new(
            EXT_ISS,
            EXT_AUD,
            ExternalAlgorithm::RS256,
            ExternalKeySource::Jwks(EXT_JWKS.into()),
        );
        cfg.user_claim = "uid".into();
        cfg.role_claim = "groups".into();
        let v = TokenVerifier::new(VerifierConfig::new(ISS, AUD), local.public_keys())
            .with_external(cfg)
            .unwrap();
        let k = EncodingKey::from_rsa_pem(RSA_PRIV.as_bytes()).unwrap();
        let mut c = ext_claims();
        c["uid"] = json!(4242);
        c["groups"] = json!(["staff", "admin"]);
        let id = v
            .verify_at(&ext_token(Algorithm::RS256, Some("ext-rsa-1"), &k, &c), NOW)
            .unwrap();
        assert_eq!((id.user_id.as_str(), id.role), ("4242", Role::Admin));
        // Missing role claim → learner; missing user claim → rejected.
        let mut c = ext_claims();
        c["uid"] = json!("alice");
        let id = v
            .verify_at(&ext_token(Algorithm::RS256, Some("ext-rsa-1"), &k, &c), NOW)
            .unwrap();
        assert_eq!(id.role, Role::Learner);
        let c = ext_claims();
        assert_eq!(
            v.verify_at(&ext_token(Algorithm::RS256, Some("ext-rsa-1"), &k, &c), NOW),
            Err(TokenError::MissingClaim("uid".into()))
        );
    }

    #[test]
    fn external_eddsa_pem_and_issuer_separation() {
        let local = SigningKeyring::generate();
        let ext_ring = SigningKeyring::generate();
        let vk = *ext_ring
            .public_keys()
            .get(ext_ring.active_kid().unwrap())
            .unwrap();
        let pem = vk.to_public_key_pem(LineEnding::LF).unwrap();
        let v = ext_verifier(
            &local,
            ExternalAlgorithm::EdDSA,
            ExternalKeySource::Pem(pem),
        );
        let tok = sign_raw(&ext_ring, &ext_claims());
        assert_eq!(v.verify_at(&tok, NOW).unwrap().issuer, Issuer::External);
        // External key signing a token that claims the LOCAL issuer name: rejected
        // (routed to local keys, kid unknown there).
        let mut c = claims_json(NOW);
        c["iss"] = json!(ISS);
        let tok = sign_raw(&ext_ring, &c);
        assert_eq!(v.verify_at(&tok, NOW), Err(TokenError::UnknownKid));
        // Even reusing a local kid it fails the signature.
        let e = ext_ring.keys.last().unwrap();
        let mut h = Header::new(Algorithm::EdDSA);
        h.kid = local.active_kid().map(str::to_owned);
        let tok = jsonwebtoken::encode(&h, &c, &e.encoding).unwrap();
        assert_eq!(v.verify_at(&tok, NOW), Err(TokenError::BadSignature));
        // Local tokens still work next to the external issuer.
        let issuer = TokenIssuer::new(local, ISS, AUD);
        let (tok, _) = issuer.issue_at("u", Role::Learner, None, NOW).unwrap();
        assert_eq!(v.verify_at(&tok, NOW).unwrap().issuer, Issuer::Local);
        // An external issuer may not share the local name.
        let bad = TokenVerifier::new(VerifierConfig::new(ISS, AUD), PublicKeyring::default())
            .with_external(ExternalIssuerConfig::new(
                ISS,
                EXT_AUD,
                ExternalAlgorithm::EdDSA,
                ExternalKeySource::Pem(String::new()),
            ));
        assert!(matches!(bad, Err(TokenError::Config(_))));
    }

    #[test]
    fn external_bad_key_material_rejected() {
        let local = SigningKeyring::generate();
        let r = TokenVerifier::new(VerifierConfig::new(ISS, AUD), local.public_keys())
            .with_external(ExternalIssuerConfig::new(
                EXT_ISS,
                EXT_AUD,
                ExternalAlgorithm::RS256,
                ExternalKeySource::Pem("not a pem".into()),
            ));
        assert!(matches!(r, Err(TokenError::InvalidKey(_))));
        // A JWKS with no key for the pinned algorithm is refused.
        let r = TokenVerifier::new(VerifierConfig::new(ISS, AUD), local.public_keys())
            .with_external(ExternalIssuerConfig::new(
                EXT_ISS,
                EXT_AUD,
                ExternalAlgorithm::EdDSA,
                ExternalKeySource::Jwks(EXT_JWKS.into()),
            ));
        assert!(matches!(r, Err(TokenError::InvalidKey(_))));
        // refresh_jwks without an external issuer.
        let v = TokenVerifier::new(VerifierConfig::new(ISS, AUD), local.public_keys());
        assert!(matches!(
            v.refresh_jwks(EXT_JWKS),
            Err(TokenError::Config(_))
        ));
        assert!("RS512".parse::<ExternalAlgorithm>().is_err());
        assert_eq!(
            "ES256".parse::<ExternalAlgorithm>().unwrap(),
            ExternalAlgorithm::ES256
        );
    }
}
