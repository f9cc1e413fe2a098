//! Playback URLs tampered with: signatures removed, altered, moved to another
//! session or path, expired, or signed for longer than the server ever signs.

use sealcast::playback::{hls_prefix, keys_prefix};

use super::cases::{case, Case, World};

pub async fn cases(w: &World) -> Vec<Case> {
    let (master, query) = w.master();
    let sid = &w.session.session_id;
    let signer = w.app.url_signer();
    let now = (sealcast::db::now_ms() / 1000) as u64;
    let other = w.app.playback(&w.cast.learner, &w.video.id).await;
    let other_sid = &other.session_id;
    let (_, other_query) = other.master_url.split_once('?').unwrap();
    let segments = w.app.segments(&w.session).await;
    let segment = segments[0]
        .segment_uri
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let key = segments[0].key_uri.split('?').next().unwrap().to_string();
    let (exp, sig) = {
        let q = sealcast_keyserver::SignedQuery::parse(&query).unwrap();
        (q.exp, q.sig)
    };
    let flipped = {
        let mut s = sig.clone().into_bytes();
        s[0] = if s[0] == b'A' { b'B' } else { b'A' };
        String::from_utf8(s).unwrap()
    };
    let expired = signer.query(&hls_prefix(sid), sid, now - 1).unwrap();
    let too_long = signer
        .query(&hls_prefix(sid), sid, now + 30 * 24 * 3600)
        .unwrap();
    let keys_expired = signer.query(&keys_prefix(sid), sid, now - 1).unwrap();
    let poster = format!("/posters/{}/poster.jpg", w.video.id);
    vec![
        case(
            "master without a signature",
            w.get(&master),
            403,
            "bad_signature",
        ),
        case(
            "master with a changed signature",
            w.get(&format!("{master}?exp={exp}&sig={flipped}")),
            403,
            "bad_signature",
        ),
        case(
            "master with a later expiry",
            w.get(&format!("{master}?exp={}&sig={sig}", exp + 1)),
            403,
            "bad_signature",
        ),
        case(
            "master expired",
            w.get(&format!("{master}?{expired}")),
            403,
            "expired_signature",
        ),
        case(
            "master signed for 30 days",
            w.get(&format!("{master}?{too_long}")),
            403,
            "bad_signature",
        ),
        case(
            "a repeated signature",
            w.get(&format!("{master}?{query}&sig={sig}")),
            403,
            "bad_signature",
        ),
        case(
            "another session's signature",
            w.get(&format!("{master}?{other_query}")),
            403,
            "bad_signature",
        ),
        case(
            "this signature on another session",
            w.get(&format!("/hls/{other_sid}/master.m3u8?{query}")),
            403,
            "bad_signature",
        ),
        case(
            "segment without a signature",
            w.get(&segment),
            403,
            "bad_signature",
        ),
        case(
            "segment with the key prefix's signature",
            w.get(&format!(
                "{segment}?{}",
                signer.query(&keys_prefix(sid), sid, now + 60).unwrap()
            )),
            403,
            "bad_signature",
        ),
        case(
            "key without a signature",
            w.get_as(&key, &w.cast.learner.token),
            403,
            "bad_signature",
        ),
        case(
            "key with an expired signature",
            w.get_as(&format!("{key}?{keys_expired}"), &w.cast.learner.token),
            403,
            "expired_signature",
        ),
        case(
            "key with the playlist prefix's signature",
            w.get_as(&format!("{key}?{query}"), &w.cast.learner.token),
            403,
            "bad_signature",
        ),
        case(
            "poster without a signature",
            w.get(&poster),
            403,
            "bad_signature",
        ),
    ]
}
