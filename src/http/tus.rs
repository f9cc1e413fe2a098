//! tus 1.0.0 protocol details shared by the upload handlers: header names,
//! the version check, the headers every response carries, and the guard
//! that streams a PATCH body to storage (length cap, idle timeout, checksum).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use futures::StreamExt;
use sha1::{Digest, Sha1};

use crate::error::{ApiError, ErrorCode};
use crate::storage::ByteStream;

pub const TUS_VERSION: &str = "1.0.0";
pub const TUS_EXTENSIONS: &str = "creation,creation-with-upload,termination,expiration,checksum";
pub const OFFSET_CONTENT_TYPE: &str = "application/offset+octet-stream";

pub static TUS_RESUMABLE: HeaderName = HeaderName::from_static("tus-resumable");
pub static TUS_VERSION_H: HeaderName = HeaderName::from_static("tus-version");
pub static TUS_EXTENSION: HeaderName = HeaderName::from_static("tus-extension");
pub static TUS_MAX_SIZE: HeaderName = HeaderName::from_static("tus-max-size");
pub static TUS_CHECKSUM_ALGORITHM: HeaderName = HeaderName::from_static("tus-checksum-algorithm");
pub static UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");
pub static UPLOAD_LENGTH: HeaderName = HeaderName::from_static("upload-length");
pub static UPLOAD_METADATA: HeaderName = HeaderName::from_static("upload-metadata");
pub static UPLOAD_EXPIRES: HeaderName = HeaderName::from_static("upload-expires");
pub static UPLOAD_CHECKSUM: HeaderName = HeaderName::from_static("upload-checksum");
pub static UPLOAD_DEFER_LENGTH: HeaderName = HeaderName::from_static("upload-defer-length");

/// Refuses tus requests without `Tus-Resumable: 1.0.0` (412) and
/// stamps `Tus-Resumable` on every response, errors included.
pub async fn protocol(request: Request, next: Next) -> Response {
    // GET and friends fall through to 405: only the tus methods need the header.
    let tus_method =
        [Method::POST, Method::HEAD, Method::PATCH, Method::DELETE].contains(request.method());
    if tus_method {
        let version = request
            .headers()
            .get(&TUS_RESUMABLE)
            .and_then(|v| v.to_str().ok());
        if version != Some(TUS_VERSION) {
            let mut response = axum::response::IntoResponse::into_response(ApiError::new(
                ErrorCode::UnsupportedVersion,
                "send Tus-Resumable: 1.0.0",
            ));
            response
                .headers_mut()
                .insert(TUS_VERSION_H.clone(), HeaderValue::from_static(TUS_VERSION));
            return stamp(response);
        }
    }
    stamp(next.run(request).await)
}

fn stamp(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(TUS_RESUMABLE.clone(), HeaderValue::from_static(TUS_VERSION));
    headers.insert(
        axum::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    response
}

/// A non-negative integer header; `Ok(None)` when absent.
pub fn u64_header(headers: &HeaderMap, name: &HeaderName) -> Result<Option<u64>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .ok()
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse().ok())
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("{name} must be a non-negative integer"))),
    }
}

/// Whether the request carries `Content-Type: application/offset+octet-stream`.
pub fn is_offset_stream(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(OFFSET_CONTENT_TYPE))
}

/// The expected SHA-1 of the body from `Upload-Checksum: sha1 <base64>`.
pub fn expected_sha1(headers: &HeaderMap) -> Result<Option<[u8; 20]>, ApiError> {
    let Some(value) = headers.get(&UPLOAD_CHECKSUM) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::bad_request("Upload-Checksum is not text"))?;
    let (algorithm, digest) = text
        .trim()
        .split_once(' ')
        .ok_or_else(|| ApiError::bad_request("Upload-Checksum must be `<algorithm> <base64>`"))?;
    if !algorithm.eq_ignore_ascii_case("sha1") {
        return Err(ApiError::new(
            ErrorCode::UnsupportedChecksumAlgorithm,
            "only sha1 checksums are supported",
        ));
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(digest.trim())
        .map_err(|_| ApiError::bad_request("Upload-Checksum digest is not base64"))?;
    raw.try_into()
        .map(Some)
        .map_err(|_| ApiError::bad_request("a sha1 digest is 20 bytes"))
}

/// `Upload-Expires` in the HTTP date format.
pub fn expires_value(expires_ms: i64) -> HeaderValue {
    let at = std::time::UNIX_EPOCH + Duration::from_millis(expires_ms.max(0) as u64);
    HeaderValue::from_str(&httpdate::fmt_http_date(at)).expect("http dates are valid headers")
}

/// What the guard saw while the body streamed.
#[derive(Debug, Default)]
pub struct BodyReport {
    /// The client sent more than the upload has room for.
    pub overflow: AtomicBool,
    pub sha1: Mutex<Option<Sha1>>,
}

impl BodyReport {
    pub fn new(hash: bool) -> Arc<Self> {
        Arc::new(Self {
            overflow: AtomicBool::new(false),
            sha1: Mutex::new(hash.then(Sha1::new)),
        })
    }

    pub fn overflowed(&self) -> bool {
        self.overflow.load(Ordering::SeqCst)
    }

    /// Whether the body's SHA-1 is `expected`, compared in constant time.
    pub fn sha1_matches(&self, expected: &[u8; 20]) -> bool {
        use subtle::ConstantTimeEq;
        let digest = self
            .sha1
            .lock()
            .expect("hasher lock")
            .take()
            .map(|h| h.finalize());
        digest.is_some_and(|d| bool::from(d.as_slice().ct_eq(expected)))
    }
}

/// The request body as a storage stream: at most `room` bytes (more sets
/// `overflow` and ends it), an error after `idle` without data, hashed when
/// a checksum was sent. Never buffers more than one chunk.
pub fn guarded_body(body: Body, room: u64, idle: Duration, report: Arc<BodyReport>) -> ByteStream {
    let stream = body.into_data_stream();
    Box::pin(futures::stream::unfold(
        (stream, room, false),
        move |(mut stream, room, done)| {
            let report = report.clone();
            async move {
                if done {
                    return None;
                }
                let next = match tokio::time::timeout(idle, stream.next()).await {
                    Err(_) => {
                        let err = io::Error::new(io::ErrorKind::TimedOut, "no data for too long");
                        return Some((Err(err), (stream, room, true)));
                    }
                    Ok(next) => next?,
                };
                match next {
                    Err(err) => Some((Err(io::Error::other(err)), (stream, room, true))),
                    Ok(chunk) if chunk.len() as u64 > room => {
                        report.overflow.store(true, Ordering::SeqCst);
                        let err = io::Error::other("body longer than the upload");
                        Some((Err(err), (stream, 0, true)))
                    }
                    Ok(chunk) => {
                        if let Some(hasher) = report.sha1.lock().expect("hasher lock").as_mut() {
                            hasher.update(&chunk);
                        }
                        let room = room - chunk.len() as u64;
                        Some((Ok(chunk), (stream, room, false)))
                    }
                }
            }
        },
    ))
}
