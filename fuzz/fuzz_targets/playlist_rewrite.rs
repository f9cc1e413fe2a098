//! Playlist parse and per-session rewrite (`src/http/hls/rewrite.rs`, m3u8-rs)
//! on arbitrary playlist text.
//!
//! Asserts: parsing and rewriting never panic; a rewritten playlist parses
//! again as the kind the player asked for, and every URI in it (variants, renditions,
//! segments, maps, keys) is an absolute path under the session's `/hls/` or
//! `/keys/` prefix carrying the session's signature; no key placeholder and
//! no URI of the stored playlist is passed on unsigned.
#![no_main]

use libfuzzer_sys::fuzz_target;
use m3u8_rs::Playlist;
use sealcast::http::hls::{rewrite_master, rewrite_media};
use sealcast::playback::{hls_prefix, keys_prefix, KEY_URI_SCHEME};
use sealcast_keyserver::UrlSigner;
use std::sync::OnceLock;

const SID: &str = "0123456789abcdef0123456789abcdef";
const EXP: u64 = 4_000_000_000;

fn queries() -> &'static (String, String) {
    static Q: OnceLock<(String, String)> = OnceLock::new();
    Q.get_or_init(|| {
        let signer = UrlSigner::new(&[9u8; 32]).unwrap();
        (
            signer.query(&hls_prefix(SID), SID, EXP).unwrap(),
            signer.query(&keys_prefix(SID), SID, EXP).unwrap(),
        )
    })
}

fn signed(uri: &str, prefix: &str, query: &str) {
    let (path, q) = uri
        .split_once('?')
        .unwrap_or_else(|| panic!("unsigned {uri}"));
    assert_eq!(q, query, "{uri}");
    assert!(path.starts_with(prefix), "{uri}");
    let rest = &path[prefix.len()..];
    assert!(
        rest.split('/')
            .all(|s| !s.is_empty() && s != "." && s != ".."),
        "{uri}"
    );
}

fuzz_target!(|data: &[u8]| {
    let (hq, kq) = queries();
    let hls = hls_prefix(SID);
    let keys = keys_prefix(SID);
    let Ok(playlist) = m3u8_rs::parse_playlist_res(data) else {
        return;
    };
    match playlist {
        Playlist::MasterPlaylist(master) => {
            let Ok(bytes) = rewrite_master(&master, SID, hq) else {
                return;
            };
            let Ok(out) = m3u8_rs::parse_master_playlist_res(&bytes) else {
                panic!(
                    "rewritten master does not parse: {}",
                    String::from_utf8_lossy(&bytes)
                );
            };
            for v in &out.variants {
                signed(&v.uri, &hls, hq);
            }
            for m in &out.alternatives {
                if let Some(uri) = &m.uri {
                    signed(uri, &hls, hq);
                }
            }
            assert!(out.session_key.is_empty());
            check_text(&bytes, &hls, &keys, hq, kq);
        }
        Playlist::MediaPlaylist(media) => {
            let Ok(bytes) = rewrite_media(&media, SID, "240p/", hq, kq) else {
                return;
            };
            let Ok(out) = m3u8_rs::parse_media_playlist_res(&bytes) else {
                panic!(
                    "rewritten media does not parse: {}",
                    String::from_utf8_lossy(&bytes)
                );
            };
            assert_eq!(out.segments.len(), media.segments.len());
            for s in &out.segments {
                signed(&s.uri, &format!("{hls}240p/"), hq);
                if let Some(uri) = s.key.as_ref().and_then(|k| k.uri.as_ref()) {
                    signed(uri, &keys, kq);
                }
                if let Some(map) = &s.map {
                    signed(&map.uri, &format!("{hls}240p/"), hq);
                }
            }
            check_text(&bytes, &hls, &keys, hq, kq);
        }
    }
});

/// The text as a player reads it, unknown tags included: every URI line and
/// every `URI="…"` attribute is signed; no key placeholder survives.
fn check_text(bytes: &[u8], hls: &str, keys: &str, hq: &str, kq: &str) {
    let text = String::from_utf8_lossy(bytes);
    assert!(!text.contains(KEY_URI_SCHEME), "{text}");
    let any_signed = |uri: &str| {
        let ok = |prefix: &str, query: &str| {
            uri.split_once('?')
                .is_some_and(|(path, q)| q == query && path.starts_with(prefix))
        };
        assert!(
            ok(hls, hq) || ok(keys, kq),
            "unsigned URI {uri:?} in {text}"
        );
    };
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            continue;
        }
        if !line.starts_with('#') {
            any_signed(line);
            continue;
        }
        // The `URI` attribute itself, not `X-URI` or the like.
        for sep in [":URI=\"", ",URI=\""] {
            let mut rest = line;
            while let Some(at) = rest.find(sep) {
                rest = &rest[at + sep.len()..];
                let end = rest.find('"').unwrap_or(rest.len());
                any_signed(&rest[..end]);
                rest = &rest[end..];
            }
        }
    }
}
