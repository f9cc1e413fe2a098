//! Playback URLs tampered with: tokens removed, altered, moved to another
//! session or path, expired, or signed for longer than the server ever signs.

use sealcast::playback::{hls_prefix, keys_prefix};

use super::cases::{case, Case, World};

pub async fn cases(w: &World) -> Vec<Case> {
    let (base, token) = w.master();
    let sid = &w.session.session_id;
    let signer = w.app.url_signer();
    let now = (sealcast::db::now_ms() / 1000) as u64;
    let other = w.app.playback(&w.cast.learner, &w.video.id).await;
    let other_sid = &other.session_id;
    let (_, other_token) = super::common::hls::split_token(&other.master_url);
    let segments = w.app.segments(&w.session).await;
    let segment = segments[0]
        .segment_uri
        .strip_prefix(&base)
        .expect("segments resolve under the session's base")
        .to_string();
    let key_id = &segments[0].key_id;
    let key = format!("/keys/{sid}/{key_id}");
    let key_at = |token: &str| {
        w.get_as(
            &format!("/hls/{sid}/{token}/{key_id}.key"),
            &w.cast.learner.token,
        )
    };
    let q = sealcast_keyserver::SignedQuery::from_path_token(&token).unwrap();
    let (exp, kv, sig) = (q.exp, q.kv, q.sig);
    let flipped = {
        let mut s = sig.clone().into_bytes();
        s[0] = if s[0] == b'A' { b'B' } else { b'A' };
        String::from_utf8(s).unwrap()
    };
    let hls = hls_prefix(sid);
    let expired = signer.path_token(&hls, sid, now - 1).unwrap();
    let too_long = signer.path_token(&hls, sid, now + 30 * 24 * 3600).unwrap();
    let keys_token = signer.path_token(&keys_prefix(sid), sid, now + 60).unwrap();
    let keys_expired = signer.query(&keys_prefix(sid), sid, now - 1).unwrap();
    let hls_query = signer.query(&hls, sid, now + 60).unwrap();
    let at = |token: &str, file: &str| w.get(&format!("/hls/{sid}/{token}/{file}"));
    let poster = format!("/posters/{}/poster.jpg", w.video.id);
    vec![
        case(
            "master without a signature",
            w.get(&format!("/hls/{sid}/master.m3u8")),
            404,
            "not_found",
        ),
        case(
            "master with the signature as a query",
            w.get(&format!("/hls/{sid}/x/master.m3u8?{hls_query}")),
            403,
            "bad_signature",
        ),
        case(
            "master with a changed signature",
            at(&format!("{exp}.{kv}.{flipped}"), "master.m3u8"),
            403,
            "bad_signature",
        ),
        case(
            "master with a later expiry",
            at(&format!("{}.{kv}.{sig}", exp + 1), "master.m3u8"),
            403,
            "bad_signature",
        ),
        case(
            "master with another key version",
            at(&format!("{exp}.{}.{sig}", kv + 1), "master.m3u8"),
            403,
            "bad_signature",
        ),
        case(
            "master expired",
            at(&expired, "master.m3u8"),
            403,
            "expired_signature",
        ),
        case(
            "master signed for 30 days",
            at(&too_long, "master.m3u8"),
            403,
            "bad_signature",
        ),
        case(
            "a token with a part repeated",
            at(&format!("{token}.{sig}"), "master.m3u8"),
            403,
            "bad_signature",
        ),
        case(
            "another session's token",
            at(&other_token, "master.m3u8"),
            403,
            "bad_signature",
        ),
        case(
            "this token on another session",
            w.get(&format!("/hls/{other_sid}/{token}/master.m3u8")),
            403,
            "bad_signature",
        ),
        case(
            "segment with a changed signature",
            at(&format!("{exp}.{kv}.{flipped}"), &segment),
            403,
            "bad_signature",
        ),
        case(
            "segment with the key prefix's signature",
            at(&keys_token, &segment),
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
            w.get_as(&format!("{key}?{hls_query}"), &w.cast.learner.token),
            403,
            "bad_signature",
        ),
        case(
            "key under a changed path token",
            key_at(&format!("{exp}.{kv}.{flipped}")),
            403,
            "bad_signature",
        ),
        case(
            "key under another session's path token",
            key_at(&other_token),
            403,
            "bad_signature",
        ),
        case(
            "key under the key prefix's path token",
            key_at(&keys_token),
            403,
            "bad_signature",
        ),
        case(
            "key under an expired path token",
            key_at(&expired),
            403,
            "expired_signature",
        ),
        case(
            "poster without a signature",
            w.get(&poster),
            403,
            "bad_signature",
        ),
    ]
}
