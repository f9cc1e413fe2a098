//! The per-session key cookie, for Safari's native HLS, which cannot send an
//! `Authorization` header: its name, a fresh value and the `Set-Cookie` that scopes it
//! to one session's key path. Only the value's hash is ever stored.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use cookie::{Cookie, SameSite};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Name of the per-session key cookie.
pub fn cookie_name(session_id: &str) -> String {
    format!("sealcast_ks_{session_id}")
}

/// A fresh random cookie value and the SHA-256 hash to store in the session record.
/// Only the hash is stored, so a database leak does not yield usable cookies.
pub fn new_session_cookie() -> (String, [u8; 32]) {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let value = URL_SAFE_NO_PAD.encode(raw);
    let hash = cookie_hash(&value);
    (value, hash)
}

/// What the session record stores for a cookie value.
pub(super) fn cookie_hash(value: &str) -> [u8; 32] {
    Sha256::digest(value.as_bytes()).into()
}

/// The two `Set-Cookie` values of the session cookie, one per key path:
/// `/hls/{session_id}/`, where a session's playlists name its keys
/// (`{token}/{key_id}.key`), and `/keys/{session_id}/`, the key server's own
/// form. HttpOnly (no script access), Secure, SameSite=Strict.
pub fn session_cookie_headers(session_id: &str, value: &str, max_age_secs: u64) -> [String; 2] {
    let max_age = i64::try_from(max_age_secs).unwrap_or(i64::MAX);
    ["hls", "keys"].map(|root| {
        Cookie::build((cookie_name(session_id), value.to_owned()))
            .path(format!("/{root}/{session_id}/"))
            .max_age(cookie::time::Duration::seconds(max_age))
            .http_only(true)
            .secure(true)
            .same_site(SameSite::Strict)
            .build()
            .to_string()
    })
}

/// Values of every cookie named `name` in the request's `Cookie` headers (at most
/// four: a browser may hold one per matching path, an attacker may send hundreds).
pub fn cookie_values(headers: &axum::http::HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .filter(|c| c.name() == name)
        .map(|c| c.value_trimmed().to_owned())
        .take(4)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_cookie_is_scoped_and_locked_down() {
        let [hls, keys] = session_cookie_headers("sess1", "v4lue", 60);
        assert!(hls.contains("Path=/hls/sess1/"), "{hls}");
        assert!(keys.contains("Path=/keys/sess1/"), "{keys}");
        for set in [hls, keys] {
            for attr in [
                "sealcast_ks_sess1=v4lue",
                "Max-Age=60",
                "HttpOnly",
                "Secure",
                "SameSite=Strict",
            ] {
                assert!(set.contains(attr), "{set}");
            }
        }
    }

    #[test]
    fn cookie_values_reads_every_header_and_only_the_name() {
        let mut h = axum::http::HeaderMap::new();
        h.append("cookie", "a=1; sealcast_ks_s=x".parse().unwrap());
        h.append(
            "cookie",
            "sealcast_ks_s=\"y\"; sealcast_ks_t=z".parse().unwrap(),
        );
        assert_eq!(cookie_values(&h, "sealcast_ks_s"), ["x", "y"]);
        assert!(cookie_values(&h, "sealcast_ks_u").is_empty());
        let (value, hash) = new_session_cookie();
        assert_eq!(cookie_hash(&value), hash);
    }
}
