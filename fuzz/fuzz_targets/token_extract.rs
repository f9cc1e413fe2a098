//! Credentials from requests and the JWT verification behind them: the edge's
//! `bearer_token` (`src/http/auth.rs`) and cookie reader
//! (`src/http/identity/extract.rs`), the key route's session-cookie reader
//! (keyserver `delivery/cookies.rs`), and `TokenVerifier::verify_at`
//! (keyserver `tokens/`) with a local and an external issuer.
//!
//! Asserts: nothing panics; an extracted credential is a piece of the header
//! it came from; no token the fuzzer builds verifies, whether raw bytes, a
//! JWT of arbitrary header and claims (right `kid`, `iss` and `aud`
//! included, signature of a real token replayed), or a real token with any
//! one byte changed, cut short or extended. The real token itself verifies.
#![no_main]

use arbitrary::Arbitrary;
use axum::http::{header, HeaderValue, Request};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use sealcast::http::auth::bearer_token;
use sealcast_keyserver::delivery::cookie_values;
use sealcast_keyserver::{
    ExternalAlgorithm, ExternalIssuerConfig, ExternalKeySource, Role, SigningKeyring, TokenIssuer,
    TokenVerifier, VerifierConfig,
};
use serde_json::{json, Value};
use std::sync::OnceLock;
use std::time::Duration;

const ISS: &str = "https://sealcast.test";
const AUD: &str = "sealcast";
const EXT_ISS: &str = "https://idp.example.test";
const EXT_AUD: &str = "sealcast-ext";
const NOW: u64 = 1_700_000_000;
const EXT_JWKS: &str = include_str!("../../keyserver/src/testdata/ext_jwks.json");

struct Fixture {
    verifier: TokenVerifier,
    kid: String,
    token: String,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let ring = SigningKeyring::generate();
        let kid = ring.active_kid().unwrap().to_string();
        let ext = ExternalIssuerConfig::new(
            EXT_ISS,
            EXT_AUD,
            ExternalAlgorithm::RS256,
            ExternalKeySource::Jwks(EXT_JWKS.into()),
        );
        let verifier = TokenVerifier::new(VerifierConfig::new(ISS, AUD), ring.public_keys())
            .with_external(ext)
            .unwrap();
        let issuer = TokenIssuer::new(ring, ISS, AUD);
        let (token, _) = issuer
            .issue_at("u1", Role::Learner, Some(Duration::from_secs(600)), NOW)
            .unwrap();
        assert!(verifier.verify_at(&token, NOW + 1).is_ok());
        Fixture {
            verifier,
            kid,
            token,
        }
    })
}

#[derive(Arbitrary, Debug)]
enum Text<'a> {
    Ours,
    Other(&'a str),
}

#[derive(Arbitrary, Debug)]
struct Forged<'a> {
    alg: Text<'a>,
    kid: Text<'a>,
    iss: Option<Text<'a>>,
    aud: Option<Text<'a>>,
    external: bool,
    sub: &'a str,
    role: &'a str,
    exp: u64,
    nbf: u64,
    extra: Option<(&'a str, &'a str)>,
    replay_signature: bool,
    signature: &'a [u8],
}

#[derive(Arbitrary, Debug)]
enum Edit<'a> {
    Flip(u16, u8),
    Truncate(u16),
    Append(&'a str),
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    authorization: &'a [u8],
    cookies: Vec<&'a [u8]>,
    cookie_name: &'a str,
    raw_token: &'a str,
    forged: Forged<'a>,
    edit: Edit<'a>,
    now: u32,
}

fn text(t: &Text, ours: &str) -> String {
    match t {
        Text::Ours => ours.to_string(),
        Text::Other(s) => (*s).to_string(),
    }
}

fn forge(f: &Forged, fx: &Fixture) -> String {
    let (iss, aud) = if f.external {
        (EXT_ISS, EXT_AUD)
    } else {
        (ISS, AUD)
    };
    let alg = if f.external { "RS256" } else { "EdDSA" };
    let kid = if f.external {
        "ext-rsa-1"
    } else {
        fx.kid.as_str()
    };
    let header = json!({"alg": text(&f.alg, alg), "kid": text(&f.kid, kid), "typ": "JWT"});
    let mut claims = json!({
        "sub": f.sub, "role": f.role, "exp": f.exp, "nbf": f.nbf, "iat": f.nbf, "jti": "j",
    });
    let map = claims.as_object_mut().unwrap();
    if let Some(t) = &f.iss {
        map.insert("iss".into(), Value::String(text(t, iss)));
    }
    if let Some(t) = &f.aud {
        map.insert("aud".into(), Value::String(text(t, aud)));
    }
    if let Some((k, v)) = f.extra {
        map.insert(k.into(), Value::String(v.into()));
    }
    let sig = if f.replay_signature {
        fx.token.rsplit('.').next().unwrap().to_string()
    } else {
        URL_SAFE_NO_PAD.encode(f.signature)
    };
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    format!("{}.{}.{sig}", b64(&header), b64(&claims))
}

fn edited(token: &str, edit: &Edit) -> String {
    let mut bytes = token.as_bytes().to_vec();
    match edit {
        Edit::Flip(at, xor) => {
            let at = usize::from(*at) % bytes.len();
            bytes[at] ^= (*xor).max(1);
        }
        Edit::Truncate(n) => bytes.truncate(usize::from(*n) % bytes.len()),
        Edit::Append(s) => bytes.extend_from_slice(s.as_bytes()),
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fuzz_target!(|input: Input| {
    let fx = fixture();
    let now = NOW + u64::from(input.now % 600);
    let refuse = |token: &str| {
        assert!(
            fx.verifier.verify_at(token, now).is_err(),
            "accepted {token:?} at {now}"
        );
    };

    let mut request = Request::builder();
    if let Ok(value) = HeaderValue::from_bytes(input.authorization) {
        request = request.header(header::AUTHORIZATION, value);
    }
    for c in &input.cookies {
        if let Ok(value) = HeaderValue::from_bytes(c) {
            request = request.header(header::COOKIE, value);
        }
    }
    let (parts, ()) = request.body(()).unwrap().into_parts();
    if let Some(token) = bearer_token(&parts) {
        let raw = parts.headers[header::AUTHORIZATION].to_str().unwrap();
        assert!(
            raw.len() > 7 && raw[..7].eq_ignore_ascii_case("bearer "),
            "{raw}"
        );
        assert!(raw.contains(token.as_str()), "{token:?} not in {raw:?}");
        refuse(&token);
    }
    let all_cookies: Vec<&str> = parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if let Some(value) = sealcast::http::identity::cookie(&parts.headers, input.cookie_name) {
        assert!(all_cookies.iter().any(|c| c.contains(value.as_str())));
        refuse(&value);
    }
    let values = cookie_values(&parts.headers, input.cookie_name);
    assert!(values.len() <= 4);
    for v in &values {
        assert!(all_cookies.iter().any(|c| c.contains(v.as_str())));
    }

    refuse(input.raw_token);
    refuse(&forge(&input.forged, fx));
    let token = edited(&fx.token, &input.edit);
    if token != fx.token {
        refuse(&token);
    }
});
