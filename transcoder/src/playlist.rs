//! HLS playlists and the layout they point into (`<rung>/index.m3u8`,
//! `<rung>/seg_NNNNN.ts`), written with m3u8-rs rather than by hand so
//! they are well-formed by construction.

use m3u8_rs::{
    Key, KeyMethod, MasterPlaylist, MediaPlaylist, MediaPlaylistType, MediaSegment, Resolution,
    VariantStream,
};

use crate::crypto::SegmentIv;

/// Segment file name inside a rung folder.
pub(crate) fn segment_name(index: usize) -> String {
    format!("seg_{index:05}.ts")
}

/// Where segment `index` of `rung` is stored.
pub(crate) fn segment_path(rung: &str, index: usize) -> String {
    format!("{rung}/{}", segment_name(index))
}

/// Where `rung`'s media playlist is stored; the master refers to it so.
pub(crate) fn media_playlist_path(rung: &str) -> String {
    format!("{rung}/index.m3u8")
}

/// One rung's VOD media playlist: segment `i` has duration `durations[i]`,
/// key `key_uris[i / rotate_every]` and IV `ivs[i]`. Every segment gets its
/// own `#EXT-X-KEY` because the explicit `IV=` of a key tag applies to all
/// following segments: repeating the tag is the only way to state a
/// per-segment IV explicitly.
pub(crate) fn media_playlist(
    durations: &[f64],
    key_uris: &[String],
    rotate_every: u32,
    ivs: &[SegmentIv],
) -> Vec<u8> {
    assert_eq!(durations.len(), ivs.len(), "one IV per segment");
    let max = durations.iter().copied().fold(0.0_f64, f64::max);
    let segments = durations
        .iter()
        .zip(ivs)
        .enumerate()
        .map(|(i, (&d, iv))| MediaSegment {
            uri: segment_name(i),
            duration: d as f32,
            key: Some(Key {
                method: KeyMethod::AES128,
                uri: Some(key_uris[i / rotate_every as usize].clone()),
                iv: Some(iv.to_string()),
                keyformat: None,
                keyformatversions: None,
            }),
            ..Default::default()
        })
        .collect();
    let pl = MediaPlaylist {
        version: Some(3),
        // ceil of the longest segment (rounded to ms first so 6.000001 -> 6).
        target_duration: ((max * 1000.0).round() / 1000.0).ceil().max(1.0) as u64,
        media_sequence: 0,
        segments,
        end_list: true,
        playlist_type: Some(MediaPlaylistType::Vod),
        ..Default::default()
    };
    let mut out = Vec::new();
    pl.write_to(&mut out).expect("writing to a Vec cannot fail");
    out
}

pub(crate) struct Variant {
    pub uri: String,
    pub bandwidth: u64,
    pub average_bandwidth: u64,
    pub codecs: String,
    pub width: u32,
    pub height: u32,
    pub frame_rate: Option<f64>,
}

pub(crate) fn master_playlist(variants: &[Variant]) -> Vec<u8> {
    let pl = MasterPlaylist {
        version: Some(3),
        independent_segments: true,
        variants: variants
            .iter()
            .map(|v| VariantStream {
                uri: v.uri.clone(),
                bandwidth: v.bandwidth,
                average_bandwidth: Some(v.average_bandwidth),
                codecs: Some(v.codecs.clone()),
                resolution: Some(Resolution {
                    width: u64::from(v.width),
                    height: u64::from(v.height),
                }),
                frame_rate: v.frame_rate.map(|f| (f * 1000.0).round() / 1000.0),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let mut out = Vec::new();
    pl.write_to(&mut out).expect("writing to a Vec cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_segment_states_its_own_iv_under_its_period_key() {
        let ivs: Vec<SegmentIv> = (0..3).map(|_| SegmentIv::generate()).collect();
        let keys = ["../keys/a.key".to_string(), "../keys/b.key".to_string()];
        let bytes = media_playlist(&[2.0, 2.0, 1.0], &keys, 2, &ivs);
        let m3u8_rs::Playlist::MediaPlaylist(pl) = m3u8_rs::parse_playlist_res(&bytes).unwrap()
        else {
            panic!("not a media playlist");
        };
        assert_eq!(pl.segments.len(), 3);
        for (i, seg) in pl.segments.iter().enumerate() {
            assert_eq!(seg.uri, segment_name(i));
            let key = seg.key.as_ref().expect("a key tag per segment");
            assert_eq!(key.method, KeyMethod::AES128);
            assert_eq!(key.uri.as_deref(), Some(keys[i / 2].as_str()));
            let iv = key.iv.as_deref().expect("explicit IV");
            assert_eq!(SegmentIv::from_attribute(iv), Some(ivs[i]));
        }
    }
}
