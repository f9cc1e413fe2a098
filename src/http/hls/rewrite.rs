//! Per-session playlists without per-session work: a session's media is
//! served under `/hls/{session}/{token}/`, and stored playlists name
//! variants and segments by relative names, which players resolve under
//! that path. So a stored media playlist is checked and written once per
//! process with each key placeholder `sealcast-key://{key_id}` turned into
//! the relative `../{key_id}.key` (the key route under the session's token,
//! see [`crate::playback`]), and every session is sent those same bytes.
//!
//! A URI in a stored playlist that is neither a plain relative name nor a
//! key placeholder is refused, never passed on; so is anything m3u8-rs could
//! not read (it would be written back verbatim).

use std::ops::Range;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use m3u8_rs::{MasterPlaylist, MediaPlaylist, Playlist};
use sealcast_keyserver::cache::BudgetCache;
use sealcast_keyserver::signed_url::is_valid_id;

use super::AppState;
use crate::captions::{add_to_master, TrackRef};
use crate::error::ApiError;
use crate::playback::{KEY_URI_SCHEME, SESSION_KEY_AFTER, SESSION_KEY_BEFORE};
use crate::storage::{collect, ObjectKey};

/// Stored playlists are small; anything larger is not ours.
const MAX_PLAYLIST: usize = 16 * 1024 * 1024;
/// Bytes of stored playlists kept per process (they never change once a
/// video is ready); one is charged five times its text: four for the
/// parsed form, one for the template.
const CACHE_BUDGET: usize = 64 << 20;

/// A stored playlist as read once: parsed (the caption timeline reads its
/// segments), and for a media playlist the bytes every session is sent.
pub struct Stored {
    pub playlist: Playlist,
    served: Option<Bytes>,
}

fn cache() -> &'static BudgetCache<String, Arc<Stored>> {
    static CACHE: OnceLock<BudgetCache<String, Arc<Stored>>> = OnceLock::new();
    CACHE.get_or_init(|| BudgetCache::new("parsed_playlists", CACHE_BUDGET))
}

pub(super) async fn load(app: &AppState, key: &ObjectKey) -> Result<Arc<Stored>, ApiError> {
    if let Some(hit) = cache().get(key.as_str(), |_| true) {
        return Ok(hit);
    }
    let body = app.storage.get(key, None).await?;
    let bytes = collect(body.stream, MAX_PLAYLIST).await?;
    let playlist = m3u8_rs::parse_playlist_res(&bytes)
        .map_err(|e| ApiError::internal(format_args!("stored playlist {key:?} unreadable: {e}")))?;
    let served = match &playlist {
        Playlist::MediaPlaylist(media) => Some(Bytes::from(
            Template::of(media)?.render(SESSION_KEY_BEFORE, SESSION_KEY_AFTER),
        )),
        Playlist::MasterPlaylist(_) => None,
    };
    let stored = Arc::new(Stored { playlist, served });
    cache().insert(key.as_str().to_string(), stored.clone(), 5 * bytes.len());
    Ok(stored)
}

/// The session's master playlist: the stored one with the video's caption
/// tracks as a `SUBTITLES` group (`subtitles` may be empty).
pub async fn master(
    app: &AppState,
    key: &ObjectKey,
    subtitles: &[TrackRef],
) -> Result<Vec<u8>, ApiError> {
    match &load(app, key).await?.playlist {
        Playlist::MasterPlaylist(m) if subtitles.is_empty() => write_master(m),
        Playlist::MasterPlaylist(m) => {
            let mut m = m.clone();
            add_to_master(&mut m, subtitles);
            write_master(&m)
        }
        Playlist::MediaPlaylist(_) => Err(wrong_kind(key)),
    }
}

/// The media playlist at `key` as every session is sent it (shared bytes).
pub async fn media(app: &AppState, key: &ObjectKey) -> Result<Bytes, ApiError> {
    match &load(app, key).await?.served {
        Some(served) => Ok(served.clone()),
        None => Err(wrong_kind(key)),
    }
}

fn wrong_kind(key: &ObjectKey) -> ApiError {
    ApiError::internal(format_args!("stored playlist {key:?} is of the wrong kind"))
}

/// A relative name like the transcoder writes (`240p/seg_00001.ts`): ASCII
/// letters, digits, `._-` and `/`, never a `..` anywhere, so no layer's
/// normalisation can read a traversal into it, and it resolves under the
/// playlist's own (signed) path.
fn is_plain(uri: &str) -> bool {
    !uri.is_empty()
        && !uri.starts_with('/')
        && !uri.contains("..")
        && uri
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b))
        && uri.split('/').all(|s| !s.is_empty() && s != ".")
}

fn plain(uri: &str) -> Result<(), ApiError> {
    if is_plain(uri) {
        Ok(())
    } else {
        Err(ApiError::internal(format_args!(
            "stored playlist has a URI that is not a relative name: {uri}"
        )))
    }
}

/// m3u8-rs writes back verbatim what it could not read: unknown tags (a
/// malformed `#EXT-X-KEY` with its placeholder among them) and attributes
/// (`DEFAULT,URI="…"` read as one odd name), URIs unchecked. The transcoder
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
/// value is a plain relative name, or (where `keys` allows) a key
/// placeholder; nothing names another host. A quoted value holding a line
/// break, which m3u8-rs reads and writes back, would otherwise start a line
/// of its own. Returns where the key ids are.
fn check_written(bytes: &[u8], keys: bool) -> Result<Vec<Range<usize>>, ApiError> {
    let refuse = || ApiError::internal("stored playlist writes lines that are not ours");
    let text = std::str::from_utf8(bytes).map_err(|_| refuse())?;
    if text.contains('\r') {
        return Err(refuse());
    }
    let mut ids = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let body = line.strip_suffix('\n').unwrap_or(line);
        if !body.is_empty() && !body.starts_with('#') && !is_plain(body) {
            return Err(refuse());
        }
        for (at, _) in body.match_indices("URI=\"") {
            let value = &body[at + 5..];
            let value = &value[..value.find('"').ok_or_else(refuse)?];
            let start = offset + at + 5;
            match value.strip_prefix(KEY_URI_SCHEME) {
                Some(id) if keys && is_valid_id(id) => {
                    ids.push(start + KEY_URI_SCHEME.len()..start + value.len());
                }
                _ if is_plain(value) => {}
                _ => return Err(refuse()),
            }
        }
        offset += line.len();
    }
    if text.matches("://").count() != ids.len() {
        return Err(refuse());
    }
    Ok(ids)
}

fn count<K, V>(map: Option<&std::collections::HashMap<K, V>>) -> usize {
    map.map_or(0, std::collections::HashMap::len)
}

/// A master playlist as served: checked, without session keys or data.
pub fn write_master(master: &MasterPlaylist) -> Result<Vec<u8>, ApiError> {
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
    for variant in &master.variants {
        plain(&variant.uri)?;
    }
    for uri in master.alternatives.iter().filter_map(|m| m.uri.as_ref()) {
        plain(uri)?;
    }
    // Session keys would put one key URI in the master; ours live in variants.
    // Session data may name a URI too, and the transcoder writes none.
    let mut out = master.clone();
    out.session_key.clear();
    out.session_data.clear();
    let mut bytes = Vec::new();
    out.write_to(&mut bytes).map_err(ApiError::internal)?;
    check_written(&bytes, false)?;
    Ok(bytes)
}

/// A media playlist's text cut at its key ids, to be written with a key URI
/// around each id.
///
/// The transcoder writes a key tag per segment (each has its own random
/// IV) but rotates keys only every few segments, so a 3-hour playlist names
/// 1,800 key URIs and a few hundred distinct keys. Each distinct URI is
/// built once and each tag then costs two copies; the copy is sized
/// exactly, so it is allocated once.
#[derive(Debug)]
pub struct Template {
    text: Vec<u8>,
    /// The distinct key ids, as ranges of `text`.
    ids: Vec<Range<usize>>,
    /// Where each `sealcast-key://{id}` placeholder is, and which id it names.
    keys: Vec<(Range<usize>, usize)>,
}

impl Template {
    /// Checks a stored media playlist and writes it once.
    pub fn of(media: &MediaPlaylist) -> Result<Template, ApiError> {
        let start = media.start.as_ref().map_or(0, |s| s.other_attributes.len());
        refuse_unread(&media.unknown_tags, &[start])?;
        for segment in &media.segments {
            let map = segment.map.as_ref().map_or(0, |m| m.other_attributes.len());
            let dates = usize::from(segment.daterange.is_some());
            refuse_unread(&segment.unknown_tags, &[map, dates])?;
            plain(&segment.uri)?;
            if let Some(uri) = segment.key.as_ref().and_then(|k| k.uri.as_ref()) {
                let key_id = uri.strip_prefix(KEY_URI_SCHEME).ok_or_else(|| {
                    ApiError::internal(format_args!("stored playlist has a real key URI: {uri}"))
                })?;
                if !is_valid_id(key_id) {
                    return Err(ApiError::internal("stored playlist has a malformed key id"));
                }
            }
            if let Some(map) = &segment.map {
                plain(&map.uri)?;
            }
        }
        let mut text = Vec::with_capacity(media.segments.len() * 40 + 256);
        media.write_to(&mut text).map_err(ApiError::internal)?;
        let mut ids: Vec<Range<usize>> = Vec::new();
        let mut index = std::collections::HashMap::new();
        let keys = check_written(&text, true)?
            .into_iter()
            .map(|id| {
                let n = *index.entry(&text[id.clone()]).or_insert_with(|| {
                    ids.push(id.clone());
                    ids.len() - 1
                });
                (id.start - KEY_URI_SCHEME.len()..id.end, n)
            })
            .collect();
        Ok(Template { text, ids, keys })
    }

    /// The text with every placeholder replaced by `{before}{id}{after}`.
    pub fn render(&self, before: &str, after: &str) -> Vec<u8> {
        // Every distinct key's URI, end to end in one buffer.
        let mut uris = Vec::with_capacity(
            self.ids.len() * (before.len() + after.len())
                + self.ids.iter().map(Range::len).sum::<usize>(),
        );
        let ends: Vec<usize> = (self.ids.iter())
            .map(|id| {
                uris.extend_from_slice(before.as_bytes());
                uris.extend_from_slice(&self.text[id.clone()]);
                uris.extend_from_slice(after.as_bytes());
                uris.len()
            })
            .collect();
        let uri = |n: usize| &uris[n.checked_sub(1).map_or(0, |p| ends[p])..ends[n]];
        let len = self
            .keys
            .iter()
            .fold(self.text.len(), |len, (placeholder, n)| {
                len - placeholder.len() + uri(*n).len()
            });
        let mut out = Vec::with_capacity(len);
        let mut at = 0;
        for (placeholder, n) in &self.keys {
            out.extend_from_slice(&self.text[at..placeholder.start]);
            out.extend_from_slice(uri(*n));
            at = placeholder.end;
        }
        out.extend_from_slice(&self.text[at..]);
        debug_assert_eq!(out.len(), len);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(stored: &[u8]) -> Result<Template, ApiError> {
        let Playlist::MediaPlaylist(media) = m3u8_rs::parse_playlist_res(stored).unwrap() else {
            panic!("media playlist expected")
        };
        Template::of(&media)
    }

    fn master_of(stored: &[u8]) -> MasterPlaylist {
        let Playlist::MasterPlaylist(master) = m3u8_rs::parse_playlist_res(stored).unwrap() else {
            panic!("master playlist expected")
        };
        master
    }

    #[test]
    fn segments_stay_relative_and_keys_resolve_under_the_session_token() {
        let stored =
            b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n\
#EXT-X-KEY:METHOD=AES-128,URI=\"sealcast-key://k1\",IV=0x00000000000000000000000000000000\n\
#EXTINF:2.0,\nseg_00000.ts\n\
#EXT-X-KEY:METHOD=AES-128,URI=\"sealcast-key://k2\",IV=0x00000000000000000000000000000001\n\
#EXTINF:2.0,\nseg_00001.ts\n#EXT-X-ENDLIST\n";
        let text = template(stored)
            .unwrap()
            .render(SESSION_KEY_BEFORE, SESSION_KEY_AFTER);
        let text = String::from_utf8(text).unwrap();
        let uris: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(uris, ["seg_00000.ts", "seg_00001.ts"], "{text}");
        // From `/hls/{s}/{token}/240p/index.m3u8`, `../k1.key` is the key
        // route under the same token, whichever rung names it.
        for id in ["k1", "k2"] {
            assert!(text.contains(&format!("URI=\"../{id}.key\"")), "{text}");
        }
        assert!(!text.contains("sealcast-key://"));
        let reparsed = m3u8_rs::parse_media_playlist_res(text.as_bytes()).unwrap();
        assert_eq!(reparsed.segments.len(), 2);
    }

    #[test]
    fn a_key_named_by_many_segments_is_built_once_and_spliced_at_each() {
        let mut stored = String::from("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n");
        for i in 0..12 {
            stored += &format!(
                "#EXT-X-KEY:METHOD=AES-128,URI=\"sealcast-key://k{}\",IV=0x{i:032x}\n#EXTINF:2.0,\nseg_{i:05}.ts\n",
                i / 5
            );
        }
        stored += "#EXT-X-ENDLIST\n";
        let template = template(stored.as_bytes()).unwrap();
        assert_eq!(template.ids.len(), 3);
        let out = template.render("/keys/s/", "?exp=1&sig=x");
        assert_eq!(out.len(), out.capacity(), "the copy is sized exactly");
        let reparsed = m3u8_rs::parse_media_playlist_res(&out).unwrap();
        for (i, segment) in reparsed.segments.iter().enumerate() {
            let key = segment.key.as_ref().unwrap();
            let want = format!("/keys/s/k{}?exp=1&sig=x", i / 5);
            assert_eq!(key.uri.as_deref(), Some(want.as_str()));
            assert_eq!(key.iv.as_deref(), Some(format!("0x{i:032x}").as_str()));
        }
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
            assert!(!is_plain(bad), "{bad}");
            let stored =
                format!("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n{bad}\n#EXT-X-ENDLIST\n");
            if let Ok(Playlist::MediaPlaylist(media)) =
                m3u8_rs::parse_playlist_res(stored.as_bytes())
            {
                assert!(Template::of(&media).is_err(), "{bad}");
            }
        }
        assert!(!is_plain(""));
        let real_key = b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n\
#EXT-X-KEY:METHOD=AES-128,URI=\"https://keys.example/k1\"\n#EXTINF:2,\nseg_00000.ts\n#EXT-X-ENDLIST\n";
        assert!(template(real_key).is_err());
    }

    /// Found by `fuzz/` (target `playlist_rewrite`): a tag m3u8-rs could not
    /// read, here a key tag with an unterminated quote, was written back with
    /// its `sealcast-key://` placeholder.
    #[test]
    fn tags_the_parser_could_not_read_are_refused() {
        let stored = b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n\
#EXT-X-KEY:METHOD=AES-128,URI=\"sealcast-key://k1\n#EXTINF:2,\nseg_00000.ts\n#EXT-X-ENDLIST\n";
        assert!(template(stored).is_err());
        let master = master_of(
            b"#EXTM3U\n#EXT-X-SOMETHING:URI=\"https://elsewhere/\"\n\
#EXT-X-STREAM-INF:BANDWIDTH=1\n240p/index.m3u8\n",
        );
        assert!(write_master(&master).is_err());
        // An attribute without `=` makes the next one an unknown attribute.
        let master = master_of(
            b"#EXTM3U\n\
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",DEFAULT,URI=\"audio.m3u8\"\n\
#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"a\"\n240p/index.m3u8\n",
        );
        assert!(write_master(&master).is_err());
        // A quoted value over two lines would be written back as two lines.
        let master = b"#EXTM3U\n\
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"x\nhttps://elsewhere/a.m3u8\"\n\
#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"a\"\n240p/index.m3u8\n";
        if let Ok(Playlist::MasterPlaylist(master)) = m3u8_rs::parse_playlist_res(master) {
            assert!(write_master(&master).is_err());
        }
        // A key placeholder has no place in a master.
        let master = master_of(
            b"#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"sealcast-key://k1\"\n\
#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"a\"\n240p/index.m3u8\n",
        );
        assert!(write_master(&master).is_err());
    }

    /// Caption tracks join the master as a `SUBTITLES` group and get a
    /// playlist of their own: every URI of both is relative, so it resolves
    /// under the session's signed path.
    #[test]
    fn subtitle_uris_are_relative_like_every_other() {
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
        let text = String::from_utf8(write_master(&master).unwrap()).unwrap();
        assert!(text.contains("URI=\"subs/pt-BR/index.m3u8\""), "{text}");
        assert_eq!(text.matches("TYPE=SUBTITLES").count(), 2, "{text}");
        assert_eq!(text.matches("SUBTITLES=\"subs\"").count(), 2, "{text}");
        assert!(text.contains("NAME=\"Português BR\""), "{text}");
        let variant = m3u8_rs::parse_media_playlist_res(
            b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nseg_00000.ts\n#EXTINF:1.5,\nseg_00001.ts\n#EXT-X-ENDLIST\n",
        )
        .unwrap();
        let playlist = crate::captions::Timeline::of(&variant).playlist();
        let text = Template::of(&playlist).unwrap().render("/keys/x/", "?q");
        let text = String::from_utf8(text).unwrap();
        let uris: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(uris, ["seg_00000.vtt", "seg_00001.vtt"], "{text}");
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
        /// Whatever the stored playlist holds, the template either refuses it
        /// or every URI a session is served is a relative name under the
        /// session's path, or the relative key URI of a well-formed key id.
        #[test]
        fn every_uri_served_stays_under_the_session(
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
            let acceptable = uris.iter().all(|u| is_plain(u)) && key.starts_with(KEY_URI_SCHEME);
            let Ok(template) = Template::of(&media) else {
                proptest::prop_assert!(!acceptable, "a plain playlist was refused: {:?}", uris);
                return Ok(());
            };
            let text = String::from_utf8(template.render(SESSION_KEY_BEFORE, SESSION_KEY_AFTER)).unwrap();
            let reparsed = match m3u8_rs::parse_media_playlist_res(text.as_bytes()) {
                Ok(p) => p,
                Err(e) => panic!("served playlist does not parse: {e:?}\n{text}"),
            };
            for segment in &reparsed.segments {
                proptest::prop_assert!(is_plain(&segment.uri), "{}", segment.uri);
                if let Some(uri) = segment.key.as_ref().and_then(|k| k.uri.as_ref()) {
                    let id = uri.strip_prefix("../").and_then(|u| u.strip_suffix(".key"));
                    proptest::prop_assert!(id.is_some_and(is_valid_id), "{}", uri);
                }
            }
            for line in text.lines().filter(|l| !l.starts_with('#')) {
                proptest::prop_assert!(is_plain(line), "{}", line);
            }
        }
    }
}
