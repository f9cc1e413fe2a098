//! Resumable uploads (tus 1.0.0): the state of each upload in the database,
//! the checks at its last byte, and the sweeper for abandoned ones.
//!
//! The protocol lives in `http/uploads.rs`; this module knows the upload's
//! life ([`workflow`]): created with its video (`uploading`), appended under
//! a [`lease`] so one request at a time writes it, published and probed at
//! the last byte, then handed to the transcode queue (`queued`). An upload
//! never becomes readable by anyone: no route serves `uploads/…`.

mod checkpoint;
mod error;
pub mod lease;
pub mod metadata;
pub mod probe;
pub mod state;
pub mod sweeper;
pub mod workflow;

pub use error::UploadError;
pub use workflow::{discard, Announced, BodyCheck, Uploader, Written};

use std::time::Duration;

/// Limits and lifetimes of uploads; every field is a setting.
#[derive(Debug, Clone)]
pub struct UploadSettings {
    /// Largest `Upload-Length` accepted (413 above).
    pub max_size: u64,
    /// Bytes one creator may hold in videos and uploads; 0 means no quota.
    pub creator_quota: u64,
    /// An upload untouched this long expires (`Upload-Expires`).
    pub expiry: Duration,
    /// How often the sweeper runs.
    pub sweep_interval: Duration,
    /// A long request records its progress every this many bytes, so a
    /// crash loses at most that much of it (each checkpoint is an fsync and
    /// a row update; S3 checkpoints at each part instead).
    pub checkpoint_bytes: u64,
}

impl Default for UploadSettings {
    fn default() -> Self {
        Self {
            max_size: 20 * 1024 * 1024 * 1024,
            creator_quota: 0,
            expiry: Duration::from_secs(24 * 3600),
            sweep_interval: Duration::from_secs(300),
            checkpoint_bytes: 8 * 1024 * 1024,
        }
    }
}
