//! Per-session playlists: parsed and written with m3u8-rs, every URI
//! rewritten to an absolute path that carries the session's signature.
//!
//! Variant and segment URIs get `exp`/`sig` over `/hls/{session}/`; key
//! placeholders (`sealcast-key://{key_id}`) become `/keys/{session}/{key_id}`
//! signed over `/keys/{session}/`. A URI in a stored playlist that is neither
//! a plain relative name nor a key placeholder is refused, never passed on.

use std::sync::{Arc, OnceLock};

use m3u8_rs::{MasterPlaylist, MediaPlaylist, Playlist};
use sealcast_keyserver::cache::BudgetCache;

use super::AppState;
use crate::captions::{add_to_master, TrackRef};
use crate::error::ApiError;
use crate::playback::{hls_prefix, keys_prefix, KEY_URI_SCHEME};
use crate::storage::{collect, ObjectKey};

/// Stored playlists are small; anything larger is not ours.
const MAX_PLAYLIST: usize = 16 * 1024 * 1024;
/// Bytes of parsed playlists kept per process (they never change once a
/// video is ready); a parsed playlist is charged four times its text.
const CACHE_BUDGET: usize = 64 << 20;

fn parsed_cache() -> &'static BudgetCache<String, Arc<Playlist>> {
    static CACHE: OnceLock<BudgetCache<String, Arc<Playlist>>> = OnceLock::new();
    CACHE.get_or_init(|| BudgetCache::new("parsed_playlists", CACHE_BUDGET))
}

pub(super) async fn load(app: &AppState, key: &ObjectKey) -> Result<Arc<Playlist>, ApiError> {
    if let Some(hit) = parsed_cache().get(key.as_str(), |_| true) {
        return Ok(hit);
    }
    let body = app.storage.get(key, None).await?;
    let bytes = collect(body.stream, MAX_PLAYLIST).await?;
    let playlist = m3u8_rs::parse_playlist_res(&bytes)
        .map_err(|e| ApiError::internal(format_args!("stored playlist {key:?} unreadable: {e}")))?;
    let playlist = Arc::new(playlist);
    parsed_cache().insert(key.as_str().to_string(), playlist.clone(), 4 * bytes.len());
    Ok(playlist)
}

/// Loads (or reuses) the stored playlist at `key` and writes it for a
/// session; a master (`subtitles` given) names the video's caption tracks.
pub async fn cached_rewrite(
    app: &AppState,
    key: &ObjectKey,
    session_id: &str,
    dir: &str,
    exp: u64,
    subtitles: Option<&[TrackRef]>,
) -> Result<Vec<u8>, ApiError> {
    let playlist = load(app, key).await?;
    let signer = &app.url_signer;
    let hls_query = signer
        .query(&hls_prefix(session_id), session_id, exp)
        .map_err(ApiError::internal)?;
    let keys_query = signer
        .query(&keys_prefix(session_id), session_id, exp)
        .map_err(ApiError::internal)?;
    match (&*playlist, subtitles) {
        (Playlist::MasterPlaylist(m), Some([])) => rewrite_master(m, session_id, &hls_query),
        (Playlist::MasterPlaylist(m), Some(tracks)) => {
            let mut m = m.clone();
            add_to_master(&mut m, tracks);
            rewrite_master(&m, session_id, &hls_query)
        }
        (Playlist::MediaPlaylist(m), None) => {
            rewrite_media(m, session_id, dir, &hls_query, &keys_query)
        }
        _ => Err(ApiError::internal(format_args!(
            "stored playlist {key:?} is of the wrong kind"
        ))),
    }
}

/// `/hls/{session}/{dir}{uri}?{query}` for a plain relative name.
fn signed_uri(session_id: &str, dir: &str, uri: &str, query: &str) -> Result<String, ApiError> {
    // Only names like the transcoder writes (`240p/seg_00001.ts`): ASCII
    // letters, digits, `._-` and `/`, never a `..` anywhere, so no layer's
    // normalisation can read a traversal into it.
    let plain = !uri.is_empty()
        && !uri.starts_with('/')
        && !uri.contains("..")
        && uri
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b))
        && uri.split('/').all(|s| !s.is_empty() && s != ".");
    if !plain {
        return Err(ApiError::internal(format_args!(
            "stored playlist has a URI that is not a relative name: {uri}"
        )));
    }
    Ok(format!("{}{dir}{uri}?{query}", hls_prefix(session_id)))
}

/// m3u8-rs writes back verbatim what it could not read: unknown tags (a
/// malformed `#EXT-X-KEY` with its placeholder among them) and attributes
/// (`DEFAULT,URI="…"` read as one odd name), URIs unrewritten. The transcoder
/// writes none, nor date ranges (whose `X-ASSET-URI` players fetch), so a
/// stored playlist holding any is refused.
fn refuse_unread(tags: &[m3u8_rs::ExtTag], attributes: &[usize]) -> Result<(), ApiError> {
    if let Some(tag) = tags.first() {
        return Err(ApiError::internal(format_args!(
            "stored playlist has a tag that is not passed on: #{}",
            tag.tag
        )));
    }
    if attributes.iter().any(|&n| n > 0) {
        return Err(ApiError::internal(
            "stored playlist has attributes that are not passed on",
        ));
    }
    Ok(())
}

/// The written text as a player reads it: every URI line and every `URI="`
/// value is ours (signed, under this session) and nothing names another
/// host. A quoted value holding a line break, which m3u8-rs reads and writes
/// back, would otherwise start a line of its own.
fn check_written(bytes: &[u8], session_id: &str) -> Result<(), ApiError> {
    let refuse = || ApiError::internal("stored playlist writes lines that are not ours");
    let text = std::str::from_utf8(bytes).map_err(|_| refuse())?;
    let (hls, keys) = (hls_prefix(session_id), keys_prefix(session_id));
    let ours = |uri: &str| (uri.starts_with(&hls) || uri.starts_with(&keys)) && uri.contains('?');
    if text.contains("://") || text.contains('\r') {
        return Err(refuse());
    }
    for line in text.lines().filter(|l| !l.is_empty()) {
        if !line.starts_with('#') && !ours(line) {
            return Err(refuse());
        }
        for (at, _) in line.match_indices("URI=\"") {
            if !ours(&line[at + 5..]) {
                return Err(refuse());
            }
        }
    }
    Ok(())
}

fn count<K, V>(map: Option<&std::collections::HashMap<K, V>>) -> usize {
    map.map_or(0, std::collections::HashMap::len)
}

pub fn rewrite_master(
    master: &MasterPlaylist,
    session_id: &str,
    hls_query: &str,
) -> Result<Vec<u8>, ApiError> {
    let mut attributes: Vec<usize> = master
        .variants
        .iter()
        .map(|v| count(v.other_attributes.as_ref()))
        .collect();
    attributes.extend(
        master
            .alternatives
            .iter()
            .map(|m| count(m.other_attributes.as_ref())),
    );
    attributes.extend(master.start.iter().map(|s| s.other_attributes.len()));
    refuse_unread(&master.unknown_tags, &attributes)?;
    let mut out = master.clone();
    for variant in &mut out.variants {
        variant.uri = signed_uri(session_id, "", &variant.uri, hls_query)?;
    }
    for media in &mut out.alternatives {
        if let Some(uri) = &media.uri {
            media.uri = Some(signed_uri(session_id, "", uri, hls_query)?);
        }
    }
    // Session keys would put one key URI in the master; ours live in variants.
    // Session data may name a URI too, and the transcoder writes none.
    out.session_key.clear();
    out.session_data.clear();
    let mut bytes = Vec::new();
    out.write_to(&mut bytes).map_err(ApiError::internal)?;
    check_written(&bytes, session_id)?;
    Ok(bytes)
}

pub fn rewrite_media(
    media: &MediaPlaylist,
    session_id: &str,
    dir: &str,
    hls_query: &str,
    keys_query: &str,
) -> Result<Vec<u8>, ApiError> {
    let start = media.start.as_ref().map_or(0, |s| s.other_attributes.len());
    refuse_unread(&media.unknown_tags, &[start])?;
    let mut out = media.clone();
    for segment in &mut out.segments {
        let map = segment.map.as_ref().map_or(0, |m| m.other_attributes.len());
        let dates = usize::from(segment.daterange.is_some());
        refuse_unread(&segment.unknown_tags, &[map, dates])?;
        segment.uri = signed_uri(session_id, dir, &segment.uri, hls_query)?;
        if let Some(key) = &mut segment.key {
            if let Some(uri) = &key.uri {
                let key_id = uri.strip_prefix(KEY_URI_SCHEME).ok_or_else(|| {
                    ApiError::internal(format_args!("stored playlist has a real key URI: {uri}"))
                })?;
                if !sealcast_keyserver::signed_url::is_valid_id(key_id) {
                    return Err(ApiError::internal("stored playlist has a malformed key id"));
                }
                // Same as playback::key_url: the signature covers the prefix,
                // so one query serves every key of the session.
                key.uri = Some(format!("{}{key_id}?{keys_query}", keys_prefix(session_id)));
            }
        }
        if let Some(map) = &mut segment.map {
            map.uri = signed_uri(session_id, dir, &map.uri, hls_query)?;
        }
    }
    let mut bytes = Vec::with_capacity(out.segments.len() * 200 + 256);
    out.write_to(&mut bytes).map_err(ApiError::internal)?;
    check_written(&bytes, session_id)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playback::key_url;
    use sealcast_keyserver::UrlSigner;

    const SID: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn media_playlist_uris_all_carry_signatures() {
        let stored =
            b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n\
#EXT-X-KEY:METHOD=AES-128,URI=\"sealcast-key://k1\",IV=0x00000000000000000000000000000000\n\
#EXTINF:2.0,\nseg_00000.ts\n#EXTINF:2.0,\nseg_00001.ts\n#EXT-X-ENDLIST\n";
        let Playlist::MediaPlaylist(media) = m3u8_rs::parse_playlist_res(stored).unwrap() else {
            panic!("media playlist expected")
        };
        let signer = UrlSigner::new(&[3u8; 32]).unwrap();
        let exp = 4_000_000_000;
        let hq = signer.query(&hls_prefix(SID), SID, exp).unwrap();
        let kq = signer.query(&keys_prefix(SID), SID, exp).unwrap();
        let text =
            String::from_utf8(rewrite_media(&media, SID, "240p/", &hq, &kq).unwrap()).unwrap();
        assert!(
            text.contains(&format!("/hls/{SID}/240p/seg_00001.ts?{hq}")),
            "{text}"
        );
        let key = key_url(&signer, SID, "k1", exp).unwrap();
        assert!(text.contains(&format!("URI=\"{key}\"")), "{text}");
        assert!(!text.contains("sealcast-key://"));
    }

    #[test]
    fn foreign_uris_are_refused() {
        for bad in [
            "https://evil/x.ts",
            "/abs.ts",
            "../up.ts",
            "a/../b.ts",
            "x.ts?y=1",
        ] {
            assert!(signed_uri(SID, "", bad, "q").is_err(), "{bad}");
        }
    }

    /// Found by `fuzz/` (target `playlist_rewrite`): a tag m3u8-rs could not
    /// read, here a key tag with an unterminated quote, was written back with
    /// its `sealcast-key://` placeholder and no signature.
    #[test]
    fn tags_the_parser_could_not_read_are_refused() {
        let stored = b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n\
#EXT-X-KEY:METHOD=AES-128,URI=\"sealcast-key://k1\n#EXTINF:2,\nseg_00000.ts\n#EXT-X-ENDLIST\n";
        let Playlist::MediaPlaylist(media) = m3u8_rs::parse_playlist_res(stored).unwrap() else {
            panic!("media playlist expected")
        };
        assert!(rewrite_media(&media, SID, "240p/", "q", "k").is_err());
        let master = b"#EXTM3U\n#EXT-X-SOMETHING:URI=\"https://elsewhere/\"\n\
#EXT-X-STREAM-INF:BANDWIDTH=1\n240p/index.m3u8\n";
        let Playlist::MasterPlaylist(master) = m3u8_rs::parse_playlist_res(master).unwrap() else {
            panic!("master playlist expected")
        };
        assert!(rewrite_master(&master, SID, "q").is_err());
        // An attribute without `=` makes the next one an unknown attribute.
        let master = b"#EXTM3U\n\
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",DEFAULT,URI=\"audio.m3u8\"\n\
#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"a\"\n240p/index.m3u8\n";
        let Playlist::MasterPlaylist(master) = m3u8_rs::parse_playlist_res(master).unwrap() else {
            panic!("master playlist expected")
        };
        assert!(rewrite_master(&master, SID, "q").is_err());
        // A quoted value over two lines would be written back as two lines.
        let master = b"#EXTM3U\n\
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"x\nhttps://elsewhere/a.m3u8\"\n\
#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"a\"\n240p/index.m3u8\n";
        if let Ok(Playlist::MasterPlaylist(master)) = m3u8_rs::parse_playlist_res(master) {
            assert!(rewrite_master(&master, SID, "q").is_err());
        }
    }

    /// Caption tracks join the master as a `SUBTITLES` group and get a
    /// playlist of their own: every URI of both is signed under the session.
    #[test]
    fn subtitle_uris_are_signed_like_every_other() {
        let stored = b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n240p/index.m3u8\n\
#EXT-X-STREAM-INF:BANDWIDTH=2\n360p/index.m3u8\n";
        let mut master = m3u8_rs::parse_master_playlist_res(stored).unwrap();
        let tracks = [
            TrackRef {
                lang: "en".into(),
                label: "English".into(),
            },
            TrackRef {
                lang: "pt-BR".into(),
                label: "Português \"BR\"".into(),
            },
        ];
        add_to_master(&mut master, &tracks);
        let q = "exp=1&sig=s";
        let text = String::from_utf8(rewrite_master(&master, SID, q).unwrap()).unwrap();
        assert!(
            text.contains(&format!("URI=\"/hls/{SID}/subs/pt-BR/index.m3u8?{q}\"")),
            "{text}"
        );
        assert_eq!(text.matches("TYPE=SUBTITLES").count(), 2, "{text}");
        assert_eq!(text.matches("SUBTITLES=\"subs\"").count(), 2, "{text}");
        assert!(text.contains("NAME=\"Português BR\""), "{text}");
        let variant = m3u8_rs::parse_media_playlist_res(
            b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nseg_00000.ts\n#EXTINF:1.5,\nseg_00001.ts\n#EXT-X-ENDLIST\n",
        )
        .unwrap();
        let playlist = crate::captions::Timeline::of(&variant).playlist();
        let text =
            String::from_utf8(rewrite_media(&playlist, SID, "subs/en/", q, "").unwrap()).unwrap();
        let uris: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            uris,
            [
                format!("/hls/{SID}/subs/en/seg_00000.vtt?{q}"),
                format!("/hls/{SID}/subs/en/seg_00001.vtt?{q}")
            ],
            "{text}"
        );
    }

    /// A stored playlist's URI: plain names, and everything a tampered or
    /// foreign playlist might carry.
    fn any_uri() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            "[a-z0-9_]{1,12}\\.ts",
            "[a-z0-9]{1,4}/[a-z0-9_]{1,8}\\.ts",
            "(\\.\\./|/|https?://[a-z]{1,5}/|//)[a-z]{1,6}\\.ts",
            "[a-z]{1,4}(\\?|#)[a-z=]{0,6}",
            "\\PC{0,20}",
        ]
    }

    proptest::proptest! {
        /// Whatever the stored playlist holds, the rewrite either refuses it
        /// or every URI it writes is a signed path under this session.
        #[test]
        fn every_uri_written_is_signed_under_the_session(
            uris in proptest::collection::vec(any_uri(), 1..6),
            key in proptest::prop_oneof!["sealcast-key://[0-9a-f]{32}", "\\PC{0,40}"],
        ) {
            let mut media = MediaPlaylist {
                target_duration: 2,
                ..Default::default()
            };
            for (i, uri) in uris.iter().enumerate() {
                media.segments.push(m3u8_rs::MediaSegment {
                    uri: uri.clone(),
                    duration: 2.0,
                    key: (i == 0).then(|| m3u8_rs::Key {
                        method: m3u8_rs::KeyMethod::AES128,
                        uri: Some(key.clone()),
                        ..Default::default()
                    }),
                    ..Default::default()
                });
            }
            let plain = |u: &str| signed_uri(SID, "", u, "q").is_ok();
            let acceptable = uris.iter().all(|u| plain(u)) && key.starts_with(KEY_URI_SCHEME);
            let rewritten = rewrite_media(&media, SID, "240p/", "exp=1&sig=s", "exp=1&sig=k");
            let Ok(bytes) = rewritten else {
                proptest::prop_assert!(!acceptable, "a plain playlist was refused: {:?}", uris);
                return Ok(());
            };
            let text = String::from_utf8(bytes).unwrap();
            let reparsed = match m3u8_rs::parse_media_playlist_res(text.as_bytes()) {
                Ok(p) => p,
                Err(e) => panic!("rewritten playlist does not parse: {e:?}\n{text}"),
            };
            let hls = format!("/hls/{SID}/240p/");
            for segment in &reparsed.segments {
                proptest::prop_assert!(segment.uri.starts_with(&hls), "{}", segment.uri);
                proptest::prop_assert!(segment.uri.ends_with("?exp=1&sig=s"), "{}", segment.uri);
                proptest::prop_assert!(!segment.uri[hls.len()..].contains(".."), "{}", segment.uri);
                if let Some(uri) = segment.key.as_ref().and_then(|k| k.uri.as_ref()) {
                    proptest::prop_assert!(uri.starts_with(&keys_prefix(SID)), "{}", uri);
                }
            }
        }
    }
}
