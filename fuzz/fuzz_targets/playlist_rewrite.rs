//! Playlist parse and per-session serving (`src/http/hls/rewrite.rs`,
//! m3u8-rs) on arbitrary playlist text.
//!
//! Asserts: parsing, checking and rendering never panic; a served playlist
//! parses again as the kind the player asked for, and every URI in it
//! (variants, renditions, segments, maps) is a plain relative name, which
//! resolves under the session's signed path, or (keys only) an absolute
//! path under the session's `/keys/` prefix carrying its signature; no key
//! placeholder and no other URI of the stored playlist is passed on.
#![no_main]

use libfuzzer_sys::fuzz_target;
use m3u8_rs::Playlist;
use sealcast::http::hls::{write_master, Template};
use sealcast::playback::{keys_prefix, KEY_URI_SCHEME};
use sealcast_keyserver::UrlSigner;
use std::sync::OnceLock;

const SID: &str = "0123456789abcdef0123456789abcdef";
const EXP: u64 = 4_000_000_000;

fn keys_query() -> &'static str {
    static Q: OnceLock<String> = OnceLock::new();
    Q.get_or_init(|| {
        let signer = UrlSigner::new(&[9u8; 32]).unwrap();
        signer.query(&keys_prefix(SID), SID, EXP).unwrap()
    })
}

/// A name that stays under the playlist's own path when resolved.
fn relative(uri: &str) {
    assert!(
        !uri.is_empty()
            && !uri.starts_with('/')
            && !uri.contains("://")
            && !uri.contains('?')
            && uri
                .split('/')
                .all(|s| !s.is_empty() && s != "." && s != ".."),
        "{uri:?}"
    );
}

fn signed_key(uri: &str, keys: &str, kq: &str) {
    let (path, q) = uri
        .split_once('?')
        .unwrap_or_else(|| panic!("unsigned {uri}"));
    assert_eq!(q, kq, "{uri}");
    let id = path.strip_prefix(keys).unwrap_or_else(|| panic!("{uri}"));
    assert!(!id.is_empty() && !id.contains('/') && id != "." && id != "..");
}

fuzz_target!(|data: &[u8]| {
    let kq = keys_query();
    let keys = keys_prefix(SID);
    let Ok(playlist) = m3u8_rs::parse_playlist_res(data) else {
        return;
    };
    match playlist {
        Playlist::MasterPlaylist(master) => {
            let Ok(bytes) = write_master(&master) else {
                return;
            };
            let Ok(out) = m3u8_rs::parse_master_playlist_res(&bytes) else {
                panic!(
                    "served master does not parse: {}",
                    String::from_utf8_lossy(&bytes)
                );
            };
            for v in &out.variants {
                relative(&v.uri);
            }
            for m in &out.alternatives {
                if let Some(uri) = &m.uri {
                    relative(uri);
                }
            }
            assert!(out.session_key.is_empty());
            check_text(&bytes, &keys, kq);
        }
        Playlist::MediaPlaylist(media) => {
            let Ok(template) = Template::of(&media) else {
                return;
            };
            let bytes = template.render(&keys, kq);
            let Ok(out) = m3u8_rs::parse_media_playlist_res(&bytes) else {
                panic!(
                    "served media does not parse: {}",
                    String::from_utf8_lossy(&bytes)
                );
            };
            assert_eq!(out.segments.len(), media.segments.len());
            for s in &out.segments {
                relative(&s.uri);
                if let Some(uri) = s.key.as_ref().and_then(|k| k.uri.as_ref()) {
                    signed_key(uri, &keys, kq);
                }
                if let Some(map) = &s.map {
                    relative(&map.uri);
                }
            }
            check_text(&bytes, &keys, kq);
        }
    }
});

/// The text as a player reads it, unknown tags included: every URI line is
/// relative and every `URI="…"` attribute relative or a signed key; no key
/// placeholder survives.
fn check_text(bytes: &[u8], keys: &str, kq: &str) {
    let text = String::from_utf8_lossy(bytes);
    assert!(!text.contains(KEY_URI_SCHEME), "{text}");
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            continue;
        }
        if !line.starts_with('#') {
            relative(line);
            continue;
        }
        // The `URI` attribute itself, not `X-URI` or the like.
        for sep in [":URI=\"", ",URI=\""] {
            let mut rest = line;
            while let Some(at) = rest.find(sep) {
                rest = &rest[at + sep.len()..];
                let end = rest.find('"').unwrap_or(rest.len());
                let uri = &rest[..end];
                if uri.starts_with('/') {
                    signed_key(uri, keys, kq);
                } else {
                    relative(uri);
                }
                rest = &rest[end..];
            }
        }
    }
}
