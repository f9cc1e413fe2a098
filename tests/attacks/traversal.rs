//! Paths that try to climb out of what they name: encoded dots and slashes,
//! backslashes, NULs, into the uploads, the database or the secrets.

use super::cases::{case, Case, World};

pub fn cases(w: &World) -> Vec<Case> {
    let (base, _) = w.master();
    let sid = &w.session.session_id;
    let vid = &w.video.id;
    let now = (sealcast::db::now_ms() / 1000) as u64;
    let keys_query = w
        .app
        .url_signer()
        .query(&sealcast::playback::keys_prefix(sid), sid, now + 600)
        .unwrap();
    let signed = |tail: &str| w.get(&format!("{base}{tail}"));
    vec![
        case(
            "encoded ../ to the upload",
            signed(&format!("..%2f..%2fuploads%2f{vid}%2fsource")),
            404,
            "not_found",
        ),
        case(
            "encoded ../ to the secrets",
            signed("..%2f..%2f..%2fsecrets%2fmaster.key"),
            404,
            "not_found",
        ),
        case(
            "backslashes",
            signed("..%5c..%5csecrets%5cmaster.key"),
            404,
            "not_found",
        ),
        case("a NUL byte", signed("seg%00.ts"), 404, "not_found"),
        case(
            "an absolute path",
            signed("%2fetc%2fpasswd"),
            404,
            "not_found",
        ),
        case(
            "the database by name",
            signed("..%2f..%2fsealcast.db"),
            404,
            "not_found",
        ),
        // Unsigned for that path, so refused before any lookup.
        case(
            "a poster of ../",
            w.get(&format!("/posters/..%2f{sid}/poster.jpg")),
            403,
            "bad_signature",
        ),
        case(
            "an upload id with ../",
            w.get_as("/api/v1/videos/..%2f..%2fsecrets", &w.cast.creator.token),
            404,
            "not_found",
        ),
        case(
            "a key id with ../",
            w.get_as(
                &format!("/keys/{sid}/..%2f..%2fsecrets?{keys_query}"),
                &w.cast.learner.token,
            ),
            // An unclean path never verifies: refused before any lookup.
            403,
            "bad_signature",
        ),
        case(
            "a key id with ../ under the session's token",
            w.get_as(
                &format!("{base}..%2f..%2fsecrets.key"),
                &w.cast.learner.token,
            ),
            // Not a key id: no key is looked up, nothing is audited.
            404,
            "not_found",
        ),
    ]
}
