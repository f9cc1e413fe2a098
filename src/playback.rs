//! The shape of playback URLs, shared by whoever mints them (playback
//! sessions), rewrites them (the HLS edge) and checks them (the key route).
//!
//! Stored playlists never contain a usable key URI: the transcoder writes
//! `sealcast-key://{key_id}` and the edge rewrites it per session into
//! `/keys/{session_id}/{key_id}?exp=…&sig=…`. Every variant and segment URI
//! is rewritten to carry the same `exp`/`sig`, signed over the prefix
//! `/hls/{session_id}/`, so no link in the chain loses its credential.

use sealcast_keyserver::{UrlSigner, UrlSignerError};

/// Scheme of the placeholder key URIs in stored playlists.
pub const KEY_URI_SCHEME: &str = "sealcast-key://";

/// The placeholder written into stored playlists for a content key.
pub fn key_placeholder(key_id: &str) -> String {
    format!("{KEY_URI_SCHEME}{key_id}")
}

/// `/hls/{session_id}/`: the signed prefix of every playlist and segment.
pub fn hls_prefix(session_id: &str) -> String {
    format!("/hls/{session_id}/")
}

/// `/keys/{session_id}/`: the signed prefix of every key URI.
pub fn keys_prefix(session_id: &str) -> String {
    format!("/keys/{session_id}/")
}

/// The signed master playlist URL handed to the player.
pub fn master_url(
    signer: &UrlSigner,
    session_id: &str,
    expires: u64,
) -> Result<String, UrlSignerError> {
    let prefix = hls_prefix(session_id);
    signer.append_query(
        &format!("{prefix}master.m3u8"),
        &prefix,
        session_id,
        expires,
    )
}

/// The signed storyboard VTT handed to the player: under the session's HLS
/// prefix, so its rewritten sprite URLs carry the same signature.
pub fn storyboard_url(
    signer: &UrlSigner,
    session_id: &str,
    expires: u64,
) -> Result<String, UrlSignerError> {
    let prefix = hls_prefix(session_id);
    signer.append_query(
        &format!("{prefix}{}", sealcast_transcoder::STORYBOARD_VTT),
        &prefix,
        session_id,
        expires,
    )
}

/// The signed key URI written into a session's playlists.
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

    #[test]
    fn urls_verify_under_their_prefix() {
        let signer = UrlSigner::new(&[9u8; 32]).unwrap();
        let sid = "0123456789abcdef0123456789abcdef";
        let now = 1_800_000_000;
        let url = master_url(&signer, sid, now + 3600).unwrap();
        let (path, query) = url.split_once('?').unwrap();
        assert_eq!(path, format!("/hls/{sid}/master.m3u8"));
        let q = sealcast_keyserver::SignedQuery::parse(query).unwrap();
        let segment = format!("/hls/{sid}/720p/seg_00001.ts");
        signer.verify(&segment, sid, q.exp, &q.sig, now).unwrap();
        assert!(signer
            .verify("/hls/other/720p/seg_00001.ts", "other", q.exp, &q.sig, now)
            .is_err());
        assert!(signer
            .verify(&segment, sid, q.exp, &q.sig, now + 7200)
            .is_err());
        let key = key_url(&signer, sid, "k1", now + 3600).unwrap();
        assert!(key.starts_with(&format!("/keys/{sid}/k1?exp=")));
    }
}
