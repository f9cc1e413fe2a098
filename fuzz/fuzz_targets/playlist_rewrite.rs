//! Playlist parse and per-session serving (`src/http/hls/rewrite.rs`,
//! m3u8-rs) on arbitrary playlist text.
//!
//! Asserts: parsing, checking and rendering never panic; a served playlist
//! parses again as the kind the player asked for, and every URI in it
//! (variants, renditions, segments, maps) is a plain relative name, which
//! resolves under the session's signed path, or (keys only) the relative
//! `../{key_id}.key`, the key route under the same path token; no key
//! placeholder and no other URI of the stored playlist is passed on.
#![no_main]

use libfuzzer_sys::fuzz_target;
use m3u8_rs::Playlist;
use sealcast::http::hls::{write_master, Template};
use sealcast::playback::{KEY_URI_SCHEME, SESSION_KEY_AFTER, SESSION_KEY_BEFORE};

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

/// `../{key_id}.key`: one folder up from the rung, to the session's token.
fn session_key(uri: &str) {
    let id = uri
        .strip_prefix(SESSION_KEY_BEFORE)
        .and_then(|u| u.strip_suffix(SESSION_KEY_AFTER))
        .unwrap_or_else(|| panic!("not a session key URI: {uri}"));
    assert!(
        !id.is_empty() && !id.contains(['/', '?', '#']) && id != "." && id != "..",
        "{uri}"
    );
}

fuzz_target!(|data: &[u8]| {
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
            check_text(&bytes);
        }
        Playlist::MediaPlaylist(media) => {
            let Ok(template) = Template::of(&media) else {
                return;
            };
            let bytes = template.render(SESSION_KEY_BEFORE, SESSION_KEY_AFTER);
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
                    session_key(uri);
                }
                if let Some(map) = &s.map {
                    relative(&map.uri);
                }
            }
            check_text(&bytes);
        }
    }
});

/// The text as a player reads it, unknown tags included: every URI line is
/// relative and every `URI="…"` attribute relative or a session key URI; no
/// key placeholder survives.
fn check_text(bytes: &[u8]) {
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
                if uri.starts_with(SESSION_KEY_BEFORE) {
                    session_key(uri);
                } else {
                    relative(uri);
                }
                rest = &rest[end..];
            }
        }
    }
}
