//! Resumable uploads: one object built by appending across many requests,
//! processes and nodes.
//!
//! The backend never remembers anything between calls: where an upload stands
//! is an [`UploadProgress`] the caller persists (the `uploads` table), so a
//! restarted server or another node picks the upload up where it was. Each
//! append either becomes durable in full (`commit_append`) or is discarded
//! (`rollback_append`, e.g. on a checksum mismatch), and the object only
//! becomes visible under its key at `finish_upload`.

use serde::{Deserialize, Serialize};

/// Where a resumable upload stands. Stored by the caller between requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadProgress {
    /// Final size in bytes.
    pub length: u64,
    /// Bytes durably stored so far.
    pub offset: u64,
    /// S3: the multipart upload these bytes go to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multipart_id: Option<String>,
    /// S3: parts already uploaded (each ≥ the part size except the last).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<UploadedPart>,
}

/// One uploaded S3 part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadedPart {
    pub number: i32,
    pub etag: String,
    pub size: u64,
}

impl UploadProgress {
    pub fn new(length: u64) -> Self {
        Self {
            length,
            ..Self::default()
        }
    }

    /// Bytes held in parts (S3).
    pub fn parts_total(&self) -> u64 {
        self.parts.iter().map(|p| p.size).sum()
    }

    /// Bytes received but not yet in a part: S3 keeps them in a side object
    /// until a whole part has arrived.
    pub fn pending(&self) -> u64 {
        self.offset.saturating_sub(self.parts_total())
    }

    pub fn is_complete(&self) -> bool {
        self.offset == self.length
    }

    /// The parts as stored in the `uploads.parts` column.
    pub fn parts_json(&self) -> Option<String> {
        (!self.parts.is_empty()).then(|| serde_json::to_string(&self.parts).unwrap_or_default())
    }

    pub fn parts_from_json(text: Option<&str>) -> Vec<UploadedPart> {
        text.and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default()
    }
}

/// What an append achieved. A body that failed midway still counts for the
/// bytes that arrived (a resuming client asks for the offset and goes on).
#[derive(Debug)]
pub struct Appended {
    pub progress: UploadProgress,
    pub body_error: Option<std::io::Error>,
}

/// Where an append reports intermediate progress that is already durable,
/// so that a crash in the middle of a long request (a browser's one-PATCH
/// 1 GB upload) loses at most the bytes since the last checkpoint instead
/// of the whole request: tusd keeps what it wrote the same way.
///
/// The local disk checkpoints every [`every`](Self::every) bytes after an
/// `fsync`; S3 after each part it uploads. The receiver records each value
/// (the `uploads` row); only the latest matters, hence a `watch` channel.
/// Off when the request's bytes must be judged whole first (a tus checksum).
#[derive(Debug, Default)]
pub struct Checkpoints {
    every: u64,
    to: Option<tokio::sync::watch::Sender<UploadProgress>>,
}

impl Checkpoints {
    /// No intermediate progress: the append counts whole or not at all.
    pub fn off() -> Self {
        Self::default()
    }

    /// Reports durable progress at least every `every` bytes into `to`.
    pub fn every(every: u64, to: tokio::sync::watch::Sender<UploadProgress>) -> Self {
        Self {
            every: every.max(1),
            to: Some(to),
        }
    }

    /// Bytes between two checkpoints on a backend that picks the spacing;
    /// `None` when off.
    pub fn spacing(&self) -> Option<u64> {
        self.to.as_ref().map(|_| self.every)
    }

    /// `progress` is durable: tell the receiver (if it still listens).
    pub fn report(&self, progress: &UploadProgress) {
        if let Some(to) = &self.to {
            to.send_replace(progress.clone());
        }
    }
}
