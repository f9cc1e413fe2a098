//! Signed playback URLs (keyserver `signed_url`): what the edge and the key
//! route do with a request's path and query.
//!
//! Asserts: arbitrary paths, queries and session ids never panic and never
//! verify; a URL signed for any valid session id, prefix and expiry verifies,
//! through `verify_query` exactly as a request would; flipping any byte of its
//! signed prefix or of its query never verifies.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sealcast_keyserver::signed_url::is_valid_id;
use sealcast_keyserver::{SignedQuery, UrlSigner};
use std::time::Duration;

const NOW: u64 = 1_700_000_000;
const ROOTS: [&str; 3] = ["hls", "keys", "v"];

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    secret: [u8; 32],
    /// Sign with version 1 (`&kv=1`) after a rotation, version 0 still held.
    rotated: bool,
    session: &'a str,
    root: u8,
    /// Path under the signed prefix: made of plain names, so it stays inside.
    rest: Vec<u8>,
    lifetime: u16,
    exp_offset: u32,
    tamper_at: u16,
    tamper_xor: u8,
    raw_path: &'a str,
    raw_query: &'a str,
    raw_session: &'a str,
    raw_now: u64,
}

fn signer(input: &Input) -> UrlSigner {
    let lifetime = Duration::from_secs(u64::from(input.lifetime.max(1)));
    let signer = UrlSigner::new(&input.secret)
        .unwrap()
        .with_max_lifetime(lifetime);
    if input.rotated {
        let mut newer = input.secret;
        newer[0] ^= 0x80;
        signer
            .set_versions(vec![
                (0, input.secret.to_vec().into()),
                (1, newer.to_vec().into()),
            ])
            .unwrap();
    }
    signer
}

/// `seg/a_1.ts`-like names from arbitrary bytes: never empty, `.` or `..`.
fn plain_rest(bytes: &[u8]) -> String {
    const ALPHA: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_-./";
    let mut out = String::new();
    for b in bytes.iter().take(64) {
        out.push(ALPHA[usize::from(*b) % ALPHA.len()] as char);
    }
    out.split('/')
        .filter(|s| !s.is_empty() && *s != "." && *s != "..")
        .collect::<Vec<_>>()
        .join("/")
}

/// How the routers split a request: the session id is the path's second segment.
fn verify_request(signer: &UrlSigner, url: &str, now: u64) -> bool {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let Some(session) = path.split('/').nth(2) else {
        return false;
    };
    SignedQuery::parse(query).is_some_and(|q| signer.verify_query(path, session, &q, now).is_ok())
}

fuzz_target!(|input: Input| {
    let signer = signer(&input);

    // Arbitrary requests: never a panic, never a pass (a forged HMAC).
    if let Some(q) = SignedQuery::parse(input.raw_query) {
        let r = signer.verify_query(input.raw_path, input.raw_session, &q, input.raw_now);
        assert!(r.is_err(), "forged query verified: {input:?}");
        let r = signer.verify_prefix(
            input.raw_path,
            input.raw_path,
            input.raw_session,
            q.exp,
            &q.sig,
            input.raw_now,
        );
        assert!(r.is_err());
    }
    let url = format!("{}?{}", input.raw_path, input.raw_query);
    assert!(!verify_request(&signer, &url, input.raw_now));

    // Round trip and tampering.
    if !is_valid_id(input.session) {
        assert!(signer.query("/hls/x/", input.session, NOW).is_err());
        return;
    }
    let root = ROOTS[usize::from(input.root) % ROOTS.len()];
    let prefix = format!("/{root}/{}/", input.session);
    let exp = NOW + 1 + u64::from(input.exp_offset) % u64::from(input.lifetime.max(1));
    let query = signer.query(&prefix, input.session, exp).unwrap();
    let path = format!("{prefix}{}", plain_rest(&input.rest));
    let url = format!("{path}?{query}");
    // `verify` takes the prefix up to the first `/{session}/`; a session id
    // equal to the root segment ("hls") therefore cannot verify (ids are hex).
    if root != input.session {
        assert!(verify_request(&signer, &url, NOW), "{url} did not verify");
        assert!(
            !verify_request(&signer, &url, exp),
            "{url} verified at its expiry"
        );
    }
    // `verify_prefix` checks version 0 only.
    let parsed = SignedQuery::parse(&query).unwrap();
    assert_eq!(
        signer
            .verify_prefix(&prefix, &path, input.session, exp, &parsed.sig, NOW)
            .is_ok(),
        !input.rotated
    );

    // Any one byte of the signed prefix or of the query, changed, fails.
    let xor = input.tamper_xor.max(1);
    let signed_len = prefix.len() + 1 + query.len();
    let at = usize::from(input.tamper_at) % signed_len;
    let index = if at < prefix.len() {
        at
    } else {
        path.len() + (at - prefix.len())
    };
    let mut bytes = url.clone().into_bytes();
    bytes[index] ^= xor;
    if let Ok(tampered) = String::from_utf8(bytes) {
        assert!(
            !verify_request(&signer, &tampered, NOW),
            "tampered {tampered} (from {url}) verified"
        );
    }
});
