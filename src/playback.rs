//! The shape of playback URLs, shared by whoever mints them (playback
//! sessions), serves them (the HLS edge) and checks them (the key route).
//!
//! A session's media lives under `/hls/{session_id}/{token}/`, the token
//! being the signature over `/hls/{session_id}/` until the session's expiry
//! (`{exp}.{kv}.{sig}`, see [`sealcast_keyserver::SignedQuery`]). Stored
//! playlists name variants and segments by relative names, which players
//! resolve under that path, so they are served as stored. The one thing
//! they never contain is a usable key URI: the transcoder writes
//! `sealcast-key://{key_id}`, and the edge serves `../{key_id}.key` in its
//! place, the same for every session (so it writes each playlist once per
//! process): from a rung's `index.m3u8` that resolves to
//! `/hls/{session_id}/{token}/{key_id}.key`, the key route under the
//! session's token, one URI per key whichever rung names it. The key
//! server's own form, `/keys/{session_id}/{key_id}?exp=…&sig=…`, is
//! [`key_url`].

use sealcast_keyserver::{UrlSigner, UrlSignerError};

/// Scheme of the placeholder key URIs in stored playlists.
pub const KEY_URI_SCHEME: &str = "sealcast-key://";

/// The placeholder written into stored playlists for a content key.
pub fn key_placeholder(key_id: &str) -> String {
    format!("{KEY_URI_SCHEME}{key_id}")
}

/// What a session's playlists name a content key by, relative to a rung's
/// `index.m3u8`: `../{key_id}.key` (see the module docs).
pub const SESSION_KEY_BEFORE: &str = "../";
/// See [`SESSION_KEY_BEFORE`]; the key route's own suffix.
pub const SESSION_KEY_AFTER: &str = sealcast_keyserver::HLS_KEY_SUFFIX;

/// `/hls/{session_id}/`: the signed prefix of every playlist and segment.
pub fn hls_prefix(session_id: &str) -> String {
    format!("/hls/{session_id}/")
}

/// `/keys/{session_id}/`: the signed prefix of every key URI.
pub fn keys_prefix(session_id: &str) -> String {
    format!("/keys/{session_id}/")
}

/// `/hls/{session_id}/{token}/`: where everything of the session is served.
pub fn hls_base(
    signer: &UrlSigner,
    session_id: &str,
    expires: u64,
) -> Result<String, UrlSignerError> {
    let prefix = hls_prefix(session_id);
    let token = signer.path_token(&prefix, session_id, expires)?;
    Ok(format!("{prefix}{token}/"))
}

/// The signed master playlist URL handed to the player.
pub fn master_url(
    signer: &UrlSigner,
    session_id: &str,
    expires: u64,
) -> Result<String, UrlSignerError> {
    Ok(format!(
        "{}master.m3u8",
        hls_base(signer, session_id, expires)?
    ))
}

/// The signed storyboard VTT handed to the player: under the session's HLS
/// path, so its relative sprite names inherit the token.
pub fn storyboard_url(
    signer: &UrlSigner,
    session_id: &str,
    expires: u64,
) -> Result<String, UrlSignerError> {
    Ok(format!(
        "{}{}",
        hls_base(signer, session_id, expires)?,
        sealcast_transcoder::STORYBOARD_VTT
    ))
}

/// A key's URL in the key server's own form, signed over `/keys/{session_id}/`.
pub fn key_url(
    signer: &UrlSigner,
    session_id: &str,
    key_id: &str,
    expires: u64,
) -> Result<String, UrlSignerError> {
    let prefix = keys_prefix(session_id);
    signer.append_query(&format!("{prefix}{key_id}"), &prefix, session_id, expires)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealcast_keyserver::SignedQuery;

    #[test]
    fn urls_verify_under_their_prefix() {
        let signer = UrlSigner::new(&[9u8; 32]).unwrap();
        let sid = "0123456789abcdef0123456789abcdef";
        let now = 1_800_000_000;
        let url = master_url(&signer, sid, now + 3600).unwrap();
        let rest = url.strip_prefix(&format!("/hls/{sid}/")).unwrap();
        let (token, file) = rest.split_once('/').unwrap();
        assert_eq!(file, "master.m3u8");
        let q = SignedQuery::from_path_token(token).unwrap();
        let segment = format!("/hls/{sid}/720p/seg_00001.ts");
        signer.verify_query(&segment, sid, &q, now).unwrap();
        assert!(signer
            .verify_query("/hls/other/720p/seg_00001.ts", "other", &q, now)
            .is_err());
        assert!(signer.verify_query(&segment, sid, &q, now + 7200).is_err());
        let key = key_url(&signer, sid, "k1", now + 3600).unwrap();
        assert!(key.starts_with(&format!("/keys/{sid}/k1?exp=")));
        let (path, query) = key.split_once('?').unwrap();
        let kq = SignedQuery::parse(query).unwrap();
        signer.verify_query(path, sid, &kq, now).unwrap();
        assert!(
            signer.verify_query(path, sid, &q, now).is_err(),
            "the HLS token opens no /keys/ URL"
        );
        let board = storyboard_url(&signer, sid, now + 3600).unwrap();
        assert_eq!(
            board,
            format!("/hls/{sid}/{token}/storyboard/storyboard.vtt")
        );
    }
}
