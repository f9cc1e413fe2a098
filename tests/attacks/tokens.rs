//! Forged, altered, expired and misplaced access tokens.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sealcast_keyserver::{Role, SigningKeyring, TokenIssuer};
use serde_json::json;

use super::cases::{case, Case, World};

/// The server's real signing keys (from its data dir), to sign what the
/// server itself would never issue.
fn issuer(world: &World, iss: &str, aud: &str) -> TokenIssuer {
    let dir = world.app.data_path().join("secrets/signing-keys");
    let pems: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    TokenIssuer::new(SigningKeyring::from_pems(pems).unwrap(), iss, aud)
}

fn b64(v: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

pub fn cases(w: &World) -> Vec<Case> {
    let me = "/api/v1/me";
    let admin_id = &w.cast.admin.user_id;
    let now = (sealcast::db::now_ms() / 1000) as u64;
    let claims = json!({"sub": admin_id, "role": "admin", "iss": "sealcast", "aud": "sealcast-api",
        "exp": now + 600, "iat": now, "nbf": now, "jti": "x"});
    let learner = &w.cast.learner.token;
    let (head, rest) = learner.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let real = issuer(w, "sealcast", "sealcast-api");
    let expired = real
        .issue_at(
            admin_id,
            Role::Admin,
            Some(Duration::from_secs(60)),
            now - 3600,
        )
        .unwrap()
        .0;
    let wrong_aud = issuer(w, "sealcast", "someone-else")
        .issue_at(admin_id, Role::Admin, None, now)
        .unwrap()
        .0;
    let wrong_iss = issuer(w, "https://evil.example", "sealcast-api")
        .issue_at(admin_id, Role::Admin, None, now)
        .unwrap()
        .0;
    let hs256 = {
        use hmac::{Hmac, Mac};
        let header = b64(&json!({"alg": "HS256", "typ": "JWT"}));
        let input = format!("{header}.{}", b64(&claims));
        let jwks = std::fs::read_dir(w.app.data_path().join("secrets/signing-keys"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&std::fs::read(jwks).unwrap()).unwrap();
        mac.update(input.as_bytes());
        format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    };
    let bearer = |name: &str, token: String, code: &'static str| {
        case(
            name,
            w.get(me).header("authorization", format!("Bearer {token}")),
            401,
            code,
        )
    };
    vec![
        case("no token", w.get(me), 401, "missing_token"),
        case(
            "basic scheme",
            w.get(me).basic_auth("admin", Some("x")),
            401,
            "missing_token",
        ),
        case(
            "token in the query",
            w.get(&format!("{me}?access_token={learner}")),
            401,
            "missing_token",
        ),
        bearer("garbage", "garbage".into(), "invalid_token"),
        bearer(
            "alg none",
            format!("{}.{}.", b64(&json!({"alg":"none"})), b64(&claims)),
            "invalid_token",
        ),
        bearer("HS256 keyed with the key file", hs256, "invalid_token"),
        bearer(
            "learner's signature on admin claims",
            format!("{head}.{}.{sig}", b64(&claims)),
            "invalid_token",
        ),
        bearer(
            "signature stripped",
            format!("{head}.{}.", rest.split_once('.').unwrap().0),
            "invalid_token",
        ),
        bearer("expired", expired, "token_expired"),
        bearer("another audience", wrong_aud, "invalid_token"),
        bearer("another issuer", wrong_iss, "invalid_token"),
        bearer(
            "header of another token",
            format!("{}.{rest}", b64(&json!({"alg":"EdDSA","kid":"nope"}))),
            "invalid_token",
        ),
    ]
}
