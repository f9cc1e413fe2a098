//! Property tests for what faces the network in the key server: signed-URL
//! verification and its query parser, and access-token verification. Each
//! property is one a forger would try to break: a signature that verifies
//! for anything but what was signed, a parser that panics or reads a
//! polluted query, a token that verifies after any change.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use proptest::prelude::*;
use sealcast_keyserver::signed_url::is_valid_id;
use sealcast_keyserver::{
    Role, SignatureError, SignedQuery, SigningKeyring, TokenIssuer, TokenVerifier, UrlSigner,
    VerifierConfig,
};

const NOW: u64 = 1_700_000_000;

fn signer() -> UrlSigner {
    UrlSigner::new(&[7u8; 32]).unwrap()
}

/// 32 lowercase hex characters: the shape of every id sealcast mints.
fn id() -> impl Strategy<Value = String> {
    "[0-9a-f]{32}"
}

/// A clean relative tail under a prefix: segment names of a playlist.
fn tail() -> impl Strategy<Value = String> {
    prop::collection::vec("[A-Za-z0-9_-]{1,12}(\\.(ts|m3u8|key))?", 0..4).prop_map(|s| s.join("/"))
}

proptest! {
    #[test]
    fn what_is_signed_verifies(sid in id(), tail in tail(), ttl in 1u64..43_200) {
        let s = signer();
        let prefix = format!("/hls/{sid}/");
        let exp = NOW + ttl;
        let sig = s.sign(&prefix, &sid, exp).unwrap();
        let path = format!("{prefix}{tail}");
        prop_assert_eq!(s.verify(&path, &sid, exp, &sig, NOW), Ok(()));
        // Expired a second later than its expiry.
        let late = s.verify(&path, &sid, exp, &sig, exp + 1);
        prop_assert!(late.is_err());
    }

    #[test]
    fn any_change_to_a_signed_url_is_refused(
        sid in id(),
        other in id(),
        exp_delta in 1u64..1000,
        flip in 0usize..43,
    ) {
        let s = signer();
        let prefix = format!("/hls/{sid}/");
        let exp = NOW + 600;
        let sig = s.sign(&prefix, &sid, exp).unwrap();
        let path = format!("{prefix}seg_00001.ts");
        // Another expiry, another session, another prefix, one changed character.
        prop_assert_eq!(s.verify(&path, &sid, exp + exp_delta, &sig, NOW), Err(SignatureError::Bad));
        if other != sid {
            let moved = format!("/hls/{other}/seg_00001.ts");
            prop_assert_eq!(s.verify(&moved, &other, exp, &sig, NOW), Err(SignatureError::Bad));
        }
        let keys = format!("/keys/{sid}/k");
        let elsewhere = s.verify(&keys, &sid, exp, &sig, NOW);
        prop_assert!(elsewhere.is_err());
        let mut bytes = sig.clone().into_bytes();
        bytes[flip] = if bytes[flip] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        if tampered != sig {
            prop_assert_eq!(s.verify(&path, &sid, exp, &tampered, NOW), Err(SignatureError::Bad));
        }
        // A different secret never agrees.
        let stranger = UrlSigner::new(&[8u8; 32]).unwrap();
        prop_assert!(stranger.verify(&path, &sid, exp, &sig, NOW).is_err());
    }

    #[test]
    fn traversal_never_escapes_the_signed_prefix(sid in id(), junk in "(\\.\\./|\\./|//|%2e%2e/|/\\.\\.)[a-z]{0,5}") {
        let s = signer();
        let prefix = format!("/hls/{sid}/");
        let exp = NOW + 600;
        let sig = s.sign(&prefix, &sid, exp).unwrap();
        let path = format!("{prefix}{junk}");
        if path.contains("..") || path.contains("//") || path.contains("/./") {
            prop_assert!(s.verify(&path, &sid, exp, &sig, NOW).is_err(), "{}", path);
        }
    }

    #[test]
    fn arbitrary_input_never_panics_or_verifies(
        path in "\\PC{0,80}",
        sid in "\\PC{0,40}",
        sig in "\\PC{0,60}",
        exp in any::<u64>(),
        now in any::<u64>(),
    ) {
        prop_assert!(signer().verify(&path, &sid, exp, &sig, now).is_err());
    }

    #[test]
    fn the_query_parser_reads_one_exp_and_one_sig(query in "\\PC{0,120}") {
        if let Some(q) = SignedQuery::parse(&query) {
            // Each key appears exactly once in what was accepted.
            let count = |k: &str| query.split('&').filter(|p| p.split('=').next() == Some(k)).count();
            prop_assert_eq!(count("exp"), 1);
            prop_assert_eq!(count("sig"), 1);
            let exp = format!("exp={}", q.exp);
            prop_assert!(query.contains(&exp));
        }
    }

    #[test]
    fn signed_queries_round_trip(
        exp in any::<u64>(),
        sig in "[A-Za-z0-9_-]{43}",
        extra in "[a-z]{1,5}=[a-z0-9]{0,5}",
        kv in 0u32..1_000_000_000,
    ) {
        // `kv` is ours (the key version), not an unrelated parameter.
        prop_assume!(!extra.starts_with("kv="));
        let q = SignedQuery::parse(&format!("{extra}&exp={exp}&sig={sig}")).unwrap();
        prop_assert_eq!((q.exp, q.sig.as_str(), q.kv), (exp, sig.as_str(), 0));
        let versioned = SignedQuery::parse(&format!("exp={exp}&sig={sig}&kv={kv}")).unwrap();
        prop_assert_eq!(versioned.kv, kv);
        let twice_kv = format!("exp={exp}&sig={sig}&kv={kv}&kv={kv}");
        prop_assert!(SignedQuery::parse(&twice_kv).is_none());
        let twice_exp = format!("exp={exp}&sig={sig}&exp={exp}");
        let twice_sig = format!("exp={exp}&sig={sig}&sig={sig}");
        prop_assert!(SignedQuery::parse(&twice_exp).is_none());
        prop_assert!(SignedQuery::parse(&twice_sig).is_none());
    }

    #[test]
    fn valid_ids_are_safe_path_segments(s in "\\PC{0,40}") {
        if is_valid_id(&s) {
            prop_assert!(s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)), "{}", s);
            prop_assert!(!s.is_empty() && s != "." && s != "..", "{}", s);
        }
    }
}

fn tokens() -> (TokenIssuer, TokenVerifier) {
    let ring = SigningKeyring::generate();
    let verifier = TokenVerifier::new(
        VerifierConfig::new("https://sealcast.test", "sealcast"),
        ring.public_keys(),
    );
    (
        TokenIssuer::new(ring, "https://sealcast.test", "sealcast"),
        verifier,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn garbage_is_never_a_token(token in "\\PC{0,300}") {
        let (_, verifier) = tokens();
        prop_assert!(verifier.verify_at(&token, NOW).is_err());
    }

    #[test]
    fn a_token_with_any_character_changed_is_refused(at in any::<prop::sample::Index>(), with in "[A-Za-z0-9_.-]") {
        let (issuer, verifier) = tokens();
        let (token, _) = issuer.issue_at("u1", Role::Learner, Some(Duration::from_secs(600)), NOW).unwrap();
        prop_assert!(verifier.verify_at(&token, NOW).is_ok());
        let i = at.index(token.len());
        let mut changed = token.clone();
        changed.replace_range(i..=i, &with);
        if changed != token {
            // Base64 padding bits can make two texts decode alike; anything
            // that still verifies must then carry the very same claims.
            match verifier.verify_at(&changed, NOW) {
                Err(_) => {}
                Ok(same) => {
                    let original = verifier.verify_at(&token, NOW).unwrap();
                    prop_assert_eq!(format!("{same:?}"), format!("{original:?}"));
                }
            }
        }
    }

    #[test]
    fn forged_headers_and_payloads_are_refused(alg in "(none|HS256|RS256|ES256|EdDSA|)", payload in "\\PC{0,60}") {
        let (_, verifier) = tokens();
        let header = URL_SAFE_NO_PAD.encode(format!("{{\"alg\":\"{alg}\",\"typ\":\"JWT\"}}"));
        let body = URL_SAFE_NO_PAD.encode(payload);
        for sig in ["", "AAAA", "c2ln"] {
            let forged = format!("{header}.{body}.{sig}");
            prop_assert!(verifier.verify_at(&forged, NOW).is_err());
        }
    }
}
