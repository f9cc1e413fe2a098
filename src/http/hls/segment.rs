//! Encrypted segments from storage: single byte ranges, ETag and
//! conditional requests, private caching (the bytes are useless without keys,
//! but they are still one learner's). Whole-segment requests fill the
//! in-memory [`HotObjects`](crate::storage::HotObjects) cache, and any
//! request for a segment held there (ranges included) is answered from it.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_range_header::{EndPosition, StartPosition};
use sha2::{Digest, Sha256};

use super::AppState;
use crate::error::{ApiError, ErrorCode};
use crate::storage::{ByteRange, ObjectBody, ObjectKey, StorageError, Whole};

const CACHE_CONTROL: &str = "private, max-age=3600";

/// What a `Range` header asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    Whole,
    From(u64, Option<u64>),
    Suffix(u64),
}

/// One `bytes=` range, parsed by `http-range-header`; anything else (several
/// ranges, other units, malformed) is answered with the whole segment, as
/// RFC 9110 allows.
fn parse_range(headers: &HeaderMap) -> Wanted {
    let Some(value) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Wanted::Whole;
    };
    let Ok(parsed) = http_range_header::parse_range_header(value.trim()) else {
        return Wanted::Whole;
    };
    let [range] = parsed.ranges.as_slice() else {
        return Wanted::Whole;
    };
    match (range.start, range.end) {
        (StartPosition::Index(s), EndPosition::LastByte) => Wanted::From(s, None),
        (StartPosition::Index(s), EndPosition::Index(e)) if e >= s => Wanted::From(s, Some(e)),
        (StartPosition::FromLast(n), _) if n > 0 => Wanted::Suffix(n),
        _ => Wanted::Whole,
    }
}

fn etag(key: &ObjectKey, size: u64) -> HeaderValue {
    let digest = Sha256::digest(key.as_str().as_bytes());
    HeaderValue::from_str(&format!("\"{}-{size:x}\"", hex::encode(&digest[..8])))
        .expect("hex is header-safe")
}

fn not_satisfiable(size: u64) -> Response {
    let mut response = ApiError::new(
        ErrorCode::RangeNotSatisfiable,
        "requested range not satisfiable",
    )
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
        response.headers_mut().insert(header::CONTENT_RANGE, v);
    }
    response
}

pub async fn serve(
    app: &AppState,
    key: &ObjectKey,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let wanted = parse_range(headers);
    if let Some(bytes) = app.hot_segments.cached(key) {
        return Ok(from_memory(key, headers, wanted, bytes));
    }
    let range = match wanted {
        Wanted::Whole => {
            return match app.hot_segments.whole(app.storage.as_ref(), key).await {
                Ok(Whole::Cached(bytes)) => Ok(from_memory(key, headers, wanted, bytes)),
                Ok(Whole::Stream(body)) => Ok(streamed(key, headers, false, body)),
                Err(err) => Err(not_found_or(err)),
            };
        }
        Wanted::From(start, end) => ByteRange { start, end },
        Wanted::Suffix(n) => {
            let size = app
                .storage
                .head(key)
                .await?
                .ok_or_else(|| ApiError::not_found("file"))?
                .size;
            ByteRange {
                start: size.saturating_sub(n),
                end: None,
            }
        }
    };
    match app.storage.get(key, Some(range)).await {
        Ok(body) => Ok(streamed(key, headers, true, body)),
        Err(StorageError::InvalidRange) => {
            let size = app.storage.head(key).await?.map_or(0, |m| m.size);
            Ok(not_satisfiable(size))
        }
        Err(err) => Err(not_found_or(err)),
    }
}

fn not_found_or(err: StorageError) -> ApiError {
    match err {
        StorageError::NotFound => ApiError::not_found("file"),
        err => err.into(),
    }
}

/// A segment held in memory: the whole of it or one range, sliced from the
/// shared bytes (no copy).
fn from_memory(key: &ObjectKey, headers: &HeaderMap, wanted: Wanted, bytes: Bytes) -> Response {
    let size = bytes.len() as u64;
    let range = match wanted {
        Wanted::Whole => None,
        Wanted::From(start, end) => Some(ByteRange { start, end }),
        Wanted::Suffix(n) => Some(ByteRange {
            start: size.saturating_sub(n),
            end: None,
        }),
    };
    let Some((start, end)) = range.map_or(Some((0, size.saturating_sub(1))), |r| r.clamp(size))
    else {
        return not_satisfiable(size);
    };
    let body = if size == 0 {
        bytes
    } else {
        bytes.slice(start as usize..=end as usize)
    };
    let parts = Parts {
        size,
        range: (start, end),
        len: body.len() as u64,
        partial: range.is_some(),
    };
    respond(key, headers, parts, in_chunks(body))
}

/// Behind nginx (`--segment-redirect-prefix`): every check has passed, so
/// nginx is told which file to send (`X-Accel-Redirect`, which nginx never
/// passes on), with our content type and caching; nginx answers ranges and
/// conditional requests itself. A segment that is not stored gets our 404
/// here rather than nginx's page.
pub async fn redirect(app: &AppState, prefix: &str, key: &ObjectKey) -> Result<Response, ApiError> {
    if app.storage.head(key).await?.is_none() {
        return Err(ApiError::not_found("file"));
    }
    let target =
        HeaderValue::from_str(&format!("{prefix}{}", key.as_str())).map_err(ApiError::internal)?;
    let mut out = HeaderMap::new();
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp2t"));
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    out.insert("x-accel-redirect", target);
    Ok((StatusCode::OK, out).into_response())
}

/// Bytes sent from memory go out in 64 KiB slices (no copy). On a vectored
/// stream (plain TCP: `connections::IdleLimited` forwards vectored writes)
/// hyper queues them as they are; on any stream that is not, hyper copies
/// each chunk into the connection's write buffer, which the slices keep at
/// 64 KiB instead of a whole segment for the connection's life.
fn in_chunks(bytes: Bytes) -> Body {
    const CHUNK: usize = 64 * 1024;
    let chunks = (0..bytes.len())
        .step_by(CHUNK)
        .map(move |at| Ok::<_, std::io::Error>(bytes.slice(at..(at + CHUNK).min(bytes.len()))));
    Body::from_stream(futures::stream::iter(chunks.collect::<Vec<_>>()))
}

fn streamed(key: &ObjectKey, headers: &HeaderMap, partial: bool, body: ObjectBody) -> Response {
    let parts = Parts {
        size: body.size,
        range: body.range,
        len: body.len(),
        partial,
    };
    respond(key, headers, parts, Body::from_stream(body.stream))
}

/// What the headers of a segment response say about its body.
struct Parts {
    size: u64,
    range: (u64, u64),
    len: u64,
    partial: bool,
}

fn respond(key: &ObjectKey, headers: &HeaderMap, parts: Parts, body: Body) -> Response {
    let tag = etag(key, parts.size);
    let mut out = HeaderMap::new();
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp2t"));
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    out.insert(header::ETAG, tag.clone());
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    if matches {
        return (StatusCode::NOT_MODIFIED, out).into_response();
    }
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(parts.len));
    if !parts.partial {
        return (StatusCode::OK, out, body).into_response();
    }
    let (start, end) = parts.range;
    let value = format!("bytes {start}-{end}/{}", parts.size);
    out.insert(
        header::CONTENT_RANGE,
        HeaderValue::from_str(&value).expect("numbers are header-safe"),
    );
    (StatusCode::PARTIAL_CONTENT, out, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(header::RANGE, HeaderValue::from_str(v).unwrap());
        m
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range(&HeaderMap::new()), Wanted::Whole);
        assert_eq!(parse_range(&h("bytes=0-99")), Wanted::From(0, Some(99)));
        assert_eq!(parse_range(&h("bytes=100-")), Wanted::From(100, None));
        assert_eq!(parse_range(&h("bytes=-10")), Wanted::Suffix(10));
        assert_eq!(parse_range(&h("bytes=5-1")), Wanted::Whole);
        assert_eq!(parse_range(&h("bytes=0-1,4-5")), Wanted::Whole);
        assert_eq!(parse_range(&h("items=0-1")), Wanted::Whole);
    }
}
