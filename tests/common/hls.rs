//! HLS playlists parsed with `m3u8-rs`, as a player reads them.

use m3u8_rs::{MasterPlaylist, MediaPlaylist};

use super::api::Api;

pub fn master(text: &str) -> MasterPlaylist {
    m3u8_rs::parse_master_playlist_res(text.as_bytes())
        .unwrap_or_else(|e| panic!("not a master playlist ({e:?}):\n{text}"))
}

pub fn media(text: &str) -> MediaPlaylist {
    m3u8_rs::parse_media_playlist_res(text.as_bytes())
        .unwrap_or_else(|e| panic!("not a media playlist ({e:?}):\n{text}"))
}

/// A segment with the key that encrypts it (EXT-X-KEY carries forward).
#[derive(Debug, Clone)]
pub struct SegmentKey {
    pub segment_uri: String,
    /// The key's URI as written (`../{key_id}.key` when served, `sealcast-key://…`
    /// at rest); resolved to its path by [`segments`].
    pub key_uri: String,
    /// The last path part of the key URI, without `.key`.
    pub key_id: String,
    pub iv: [u8; 16],
}

/// Each segment of a media playlist with its key.
pub fn keyed_segments(playlist: &MediaPlaylist) -> Vec<SegmentKey> {
    let mut current = None;
    let mut out = Vec::new();
    for segment in &playlist.segments {
        if let Some(key) = &segment.key {
            current = Some(key.clone());
        }
        let key = current
            .clone()
            .unwrap_or_else(|| panic!("segment {} has no key", segment.uri));
        assert_eq!(key.method, m3u8_rs::KeyMethod::AES128, "{key:?}");
        let key_uri = key.uri.expect("EXT-X-KEY with a URI");
        let path = key_uri.split('?').next().unwrap();
        let key_id = path.rsplit(['/', ':']).next().unwrap();
        let key_id = key_id.strip_suffix(".key").unwrap_or(key_id).to_string();
        let iv = key.iv.expect("EXT-X-KEY with an IV");
        let iv: [u8; 16] = hex::decode(iv.trim_start_matches("0x").trim_start_matches("0X"))
            .unwrap()
            .try_into()
            .unwrap();
        out.push(SegmentKey {
            segment_uri: segment.uri.clone(),
            key_uri,
            key_id,
            iv,
        });
    }
    out
}

/// A playlist's `uri` as a player resolves it against the playlist's own
/// `base` path (RFC 3986 for the names ours hold: absolute paths as they
/// are, relative names under the base's folder, each leading `../` one
/// folder up).
pub fn resolve(base: &str, uri: &str) -> String {
    if uri.starts_with('/') {
        return uri.to_string();
    }
    let base = base.split('?').next().unwrap();
    let mut folder = &base[..base.rfind('/').expect("an absolute base")];
    let mut uri = uri;
    while let Some(rest) = uri.strip_prefix("../") {
        folder = &folder[..folder.rfind('/').expect("not above the root")];
        uri = rest;
    }
    format!("{folder}/{uri}")
}

/// The first variant's URL of the master playlist at `master_url`.
pub async fn first_variant(api: &Api, master_url: &str) -> String {
    let resp = api.anonymous_get(master_url).await;
    assert_eq!(resp.status(), 200, "{master_url}");
    let master = master(&resp.text().await.unwrap());
    resolve(master_url, &master.variants.first().expect("a variant").uri)
}

/// Fetches a signed master URL and its first variant; that variant's
/// segments and keys, their URIs resolved to absolute paths.
pub async fn segments(api: &Api, master_url: &str) -> Vec<SegmentKey> {
    let variant = first_variant(api, master_url).await;
    let resp = api.anonymous_get(&variant).await;
    assert_eq!(resp.status(), 200, "{variant}");
    let mut segments = keyed_segments(&media(&resp.text().await.unwrap()));
    for segment in &mut segments {
        segment.segment_uri = resolve(&variant, &segment.segment_uri);
        segment.key_uri = resolve(&variant, &segment.key_uri);
    }
    segments
}

/// `(session base, token)` of a session URL `/hls/{session}/{token}/…`:
/// the base ends with `/{token}/`.
pub fn split_token(url: &str) -> (String, String) {
    let parts: Vec<&str> = url.splitn(5, '/').collect();
    assert!(
        parts.len() == 5 && parts[1] == "hls",
        "not a session URL: {url}"
    );
    (
        format!("/hls/{}/{}/", parts[2], parts[3]),
        parts[3].to_string(),
    )
}

/// The distinct key ids of a playlist's segments, in order.
pub fn key_ids(segments: &[SegmentKey]) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for s in segments {
        if ids.last() != Some(&s.key_id) {
            ids.push(s.key_id.clone());
        }
    }
    ids
}

/// `(path, query)` of a signed URL.
pub fn split_url(url: &str) -> (String, String) {
    let (p, q) = url.split_once('?').unwrap();
    (p.to_string(), q.to_string())
}
