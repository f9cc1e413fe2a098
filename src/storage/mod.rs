//! Object storage: where segments, playlists, posters and in-flight uploads live.
//!
//! Objects are addressed by validated [`ObjectKey`]s, so no caller can walk
//! out of the store with `..`, an absolute path, a NUL or a backslash. Bodies
//! are streams in both directions: nothing here ever holds a whole object in
//! memory (the S3 backend holds at most a few parts), except [`HotObjects`],
//! which keeps small segments under a byte budget.

mod config;
mod fs;
mod hot;
mod key;
mod resumable;
mod s3;

use std::io;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures::Stream;

pub use self::config::{InvalidStorageSetting, S3Options, StorageConfig};
pub use self::fs::FsStore;
pub use self::hot::{HotObjects, Whole};
pub use self::key::{ObjectKey, ObjectPrefix};
pub use self::resumable::{Appended, Checkpoints, UploadProgress, UploadedPart};
pub use self::s3::{S3Settings, S3Store};
pub use aws_sdk_s3::config::Credentials as S3Credentials;

/// A stream of body chunks; the error ends the stream.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("invalid key: {0}")]
    InvalidKey(String),
    #[error("object not found")]
    NotFound,
    #[error("range not satisfiable")]
    InvalidRange,
    /// The backend could not be reached; retrying later may succeed.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("body stream failed: {0}")]
    Body(io::Error),
    /// The device (or the user's disk quota) has no room left: told apart
    /// from other I/O errors so the client hears `507` instead of `500`.
    #[error("storage is full: {0}")]
    Full(io::Error),
    #[error("i/o error: {0}")]
    Io(io::Error),
    #[error("storage backend error: {0}")]
    Backend(String),
}

impl StorageError {
    /// Whether a retry with backoff is worth it (used by the job queue). A
    /// full disk is: deletions and the upload sweeper free space, and the
    /// queue gives up after its bounded attempts with the reason recorded.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StorageError::Unavailable(_) | StorageError::Backend(_) | StorageError::Full(_)
        )
    }
}

impl From<io::Error> for StorageError {
    /// Every `?` on local I/O lands here, so `ENOSPC` and `EDQUOT` become
    /// [`StorageError::Full`] wherever they happen (a put, an append, a fsync).
    fn from(err: io::Error) -> Self {
        let full = matches!(
            err.kind(),
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
        ) || matches!(err.raw_os_error(), Some(ENOSPC | EDQUOT));
        if full {
            StorageError::Full(err)
        } else {
            StorageError::Io(err)
        }
    }
}

/// Linux's "no space left on device" and "disk quota exceeded".
const ENOSPC: i32 = 28;
const EDQUOT: i32 = 122;

/// A byte range: `start` and an optional inclusive `end`, as in HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: Option<u64>,
}

impl ByteRange {
    /// Resolves against the object size; `None` when unsatisfiable.
    pub fn clamp(self, size: u64) -> Option<(u64, u64)> {
        if self.start >= size {
            return None;
        }
        let end = self.end.map_or(size - 1, |e| e.min(size - 1));
        (end >= self.start).then_some((self.start, end))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
}

/// A (possibly ranged) object body with what an HTTP response needs.
pub struct ObjectBody {
    /// Total size of the object.
    pub size: u64,
    /// Inclusive byte range carried by `stream`.
    pub range: (u64, u64),
    pub stream: ByteStream,
}

impl std::fmt::Debug for ObjectBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectBody")
            .field("size", &self.size)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

impl ObjectBody {
    pub fn len(&self) -> u64 {
        if self.size == 0 {
            0
        } else {
            self.range.1 - self.range.0 + 1
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What every backend provides; one conformance suite (tests/storage_conformance.rs) runs on each.
#[async_trait::async_trait]
pub trait ObjectStore: Send + Sync + 'static {
    /// Streams `body` into `key`. The object appears whole or not at all:
    /// a failed stream leaves nothing visible.
    async fn put(&self, key: &ObjectKey, body: ByteStream) -> Result<u64, StorageError>;
    /// Streams the object, or the part of it that `range` names.
    async fn get(
        &self,
        key: &ObjectKey,
        range: Option<ByteRange>,
    ) -> Result<ObjectBody, StorageError>;
    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, StorageError>;
    /// Deletes the object; deleting a missing object is not an error.
    async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError>;
    /// Every object whose key starts with `prefix`, sorted by key.
    async fn list(&self, prefix: &ObjectPrefix) -> Result<Vec<ObjectMeta>, StorageError>;
    /// Deletes every object under `prefix`; returns how many went.
    async fn delete_prefix(&self, prefix: &ObjectPrefix) -> Result<u64, StorageError>;
    /// Starts a resumable upload of `length` bytes that will become `key`.
    async fn begin_upload(
        &self,
        key: &ObjectKey,
        length: u64,
    ) -> Result<UploadProgress, StorageError>;
    /// Appends `body` at `at.offset`. Nothing it wrote counts until
    /// [`commit_append`](Self::commit_append); at most one part is buffered
    /// (on disk, never in memory).
    async fn append_upload(
        &self,
        key: &ObjectKey,
        at: &UploadProgress,
        body: ByteStream,
    ) -> Result<Appended, StorageError> {
        self.append_checkpointed(key, at, body, Checkpoints::off())
            .await
    }
    /// [`append_upload`](Self::append_upload) that also reports progress
    /// made durable along the way, so a caller can record it before the
    /// request ends; a later rollback goes back no further than the last
    /// progress the caller recorded.
    async fn append_checkpointed(
        &self,
        key: &ObjectKey,
        at: &UploadProgress,
        body: ByteStream,
        checkpoints: Checkpoints,
    ) -> Result<Appended, StorageError>;
    /// The caller stored `new`: drop what only `old` needed.
    async fn commit_append(&self, key: &ObjectKey, old: &UploadProgress, new: &UploadProgress);
    /// The caller refused the append (checksum, overflow): back to `old`.
    async fn rollback_append(&self, key: &ObjectKey, old: &UploadProgress, new: &UploadProgress);
    /// Publishes a complete upload under `key`.
    async fn finish_upload(&self, key: &ObjectKey, at: &UploadProgress)
        -> Result<(), StorageError>;
    /// Throws an unfinished upload away with everything it stored.
    async fn abort_upload(&self, key: &ObjectKey, at: &UploadProgress) -> Result<(), StorageError>;
    /// The local file holding `key`, when the backend is a local disk: lets
    /// a media probe read in place instead of copying. `None` elsewhere.
    fn local_path(&self, _key: &ObjectKey) -> Option<std::path::PathBuf> {
        None
    }
    /// Cheap reachability check for `/readyz`.
    async fn check(&self) -> Result<(), StorageError>;
    /// A short description for logs (never credentials).
    fn describe(&self) -> String;
}

/// Opens the configured backend. S3 that can't be reached is not an error
/// here: the server starts and `/readyz` reports it.
pub async fn open(config: &StorageConfig) -> Result<Arc<dyn ObjectStore>, StorageError> {
    match config {
        StorageConfig::File { root } => Ok(Arc::new(FsStore::open(root).await?)),
        StorageConfig::S3 {
            bucket,
            prefix,
            endpoint,
            region,
            part_size,
        } => {
            let settings = S3Settings {
                bucket: bucket.clone(),
                prefix: prefix.clone(),
                endpoint: endpoint.clone(),
                region: region.clone(),
                part_size: *part_size,
                part_concurrency: 4,
            };
            Ok(Arc::new(S3Store::connect(settings).await))
        }
    }
}

/// Creates a directory (and its parents) only this process's user may list
/// or enter: stored media is one creator's and uploads and work copies are
/// raw, so directories are 0700 and the files in them 0600.
///
/// Only new directories get the mode (no chmod on every call: this runs on
/// every stored segment); older ones are covered by the data dir's own 0700,
/// set at start.
pub async fn private_dir(path: &std::path::Path) -> io::Result<()> {
    tokio::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .await
}

/// Wraps an in-memory buffer as a [`ByteStream`] (small objects such as playlists).
pub fn bytes_stream(bytes: impl Into<Bytes>) -> ByteStream {
    let bytes = bytes.into();
    Box::pin(futures::stream::once(async move { Ok(bytes) }))
}

/// Collects a whole stream; only for small objects (playlists, tests).
pub async fn collect(mut stream: ByteStream, limit: usize) -> Result<Vec<u8>, StorageError> {
    use futures::StreamExt;
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(StorageError::Body)?;
        if out.len() + chunk.len() > limit {
            return Err(StorageError::Backend(format!(
                "object larger than {limit} bytes"
            )));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}
