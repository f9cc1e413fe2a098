//! CBC under one key needs a fresh IV per segment: the key of a crypto
//! period is shared by every rung (so players switch rungs without a new
//! key), hence the IV must differ across rungs as well as across segments.

mod common;

use std::collections::BTreeSet;

use common::*;
use sealcast_transcoder::decrypt_segment;

#[test]
fn no_two_segments_share_a_key_and_an_iv() {
    let tmp = tempfile::tempdir().unwrap();
    let src = make_source(tmp.path(), "src.mp4", 5, &[]);
    let out = tmp.path().join("out");
    let (res, _) = run_transcode(&src, &out, &small_opts());
    let report = res.unwrap();
    assert_eq!(report.segment_count, 3);

    assert_key_iv_pairs_unique(&out);

    let tags = segment_key_tags(&out);
    assert_eq!(tags.len(), SMALL_LADDER.len() * report.segment_count);
    // Keys stay shared across rungs: segment i has the same key everywhere.
    for index in 0..report.segment_count {
        let keys: BTreeSet<_> = tags
            .iter()
            .filter(|t| t.index == index)
            .map(|t| (t.key_uri.clone(), t.key))
            .collect();
        assert_eq!(keys.len(), 1, "segment {index}: {keys:?}");
    }
    // The IV in the playlist is the one the segment was encrypted with.
    for t in &tags {
        let enc = std::fs::read(&t.segment).unwrap();
        let plain = decrypt_segment(&t.key, &t.iv_bytes(), &enc)
            .unwrap_or_else(|| panic!("{} segment {} does not decrypt", t.variant, t.index));
        assert!(
            plain.len() >= 188 * 3 && (0..3).all(|i| plain[i * 188] == 0x47),
            "{} segment {} is not MPEG-TS once decrypted",
            t.variant,
            t.index
        );
    }
    check_playable(&out, &SMALL_LADDER, 5.0);
}
