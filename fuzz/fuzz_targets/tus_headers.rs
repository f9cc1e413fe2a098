//! tus request headers (`src/http/tus.rs`) and `Upload-Metadata`
//! (`src/uploads/metadata.rs`) on arbitrary header bytes.
//!
//! Asserts: no panic; `Upload-Offset`/`Upload-Length` accept exactly the
//! decimal u64s; a checksum is accepted only as `sha1 <base64 of 20 bytes>`;
//! accepted metadata has unique non-empty ASCII keys and writes back to itself.
#![no_main]

use arbitrary::Arbitrary;
use axum::http::{header, HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use sealcast::http::tus::{
    expected_sha1, is_offset_stream, u64_header, UPLOAD_CHECKSUM, UPLOAD_LENGTH, UPLOAD_METADATA,
    UPLOAD_OFFSET,
};
use sealcast::uploads::metadata;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    offset: &'a [u8],
    length: &'a [u8],
    checksum: &'a [u8],
    content_type: &'a [u8],
    metadata: &'a [u8],
}

fn headers(input: &Input) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in [
        (&UPLOAD_OFFSET, input.offset),
        (&UPLOAD_LENGTH, input.length),
        (&UPLOAD_CHECKSUM, input.checksum),
        (&header::CONTENT_TYPE, input.content_type),
        (&UPLOAD_METADATA, input.metadata),
    ] {
        // What hyper would have refused never reaches a handler.
        if let Ok(value) = HeaderValue::from_bytes(value) {
            map.insert(name.clone(), value);
        }
    }
    map
}

fn is_decimal_u64(raw: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(raw).ok()?;
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fuzz_target!(|input: Input| {
    let map = headers(&input);
    for (name, raw) in [
        (&UPLOAD_OFFSET, input.offset),
        (&UPLOAD_LENGTH, input.length),
    ] {
        match (u64_header(&map, name), map.get(name)) {
            (Ok(None), None) => {}
            (Ok(Some(n)), Some(_)) => assert_eq!(Some(n), is_decimal_u64(raw), "{raw:?}"),
            (Err(_), Some(_)) => assert_eq!(None, is_decimal_u64(raw), "{raw:?}"),
            (other, present) => panic!("{other:?} with header {present:?}"),
        }
    }
    if let Ok(Some(_)) = expected_sha1(&map) {
        let text = map[&UPLOAD_CHECKSUM].to_str().unwrap().trim();
        let (algorithm, _) = text.split_once(' ').unwrap();
        assert!(algorithm.eq_ignore_ascii_case("sha1"), "{text}");
    }
    if is_offset_stream(&map) {
        let text = map[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_ascii_lowercase();
        assert!(text.contains("application/offset+octet-stream"), "{text}");
    }
    if let Some(text) = map.get(&UPLOAD_METADATA).and_then(|v| v.to_str().ok()) {
        if let Ok(parsed) = metadata::parse(text) {
            for key in parsed.keys() {
                assert!(!key.is_empty() && key.is_ascii(), "{key:?}");
                assert!(!key.contains(',') && !key.contains(' '), "{key:?}");
            }
            let written = metadata::encode(&parsed);
            assert_eq!(metadata::parse(&written).as_ref(), Ok(&parsed), "{written}");
        }
    }
});
