//! The worker's side of a job's outputs: what the sandboxed child sends
//! ([`super::protocol`]) is checked and stored here, segments and playlists
//! to object storage, sealed content keys into the database.
//!
//! Uploads run on one background task in production order, so they overlap
//! encoding but `master.m3u8` (always last) still lands last: its presence
//! means the set is complete. The queue between the two is bounded, and the
//! child blocks on its pipe meanwhile, so a slow store slows the encoder
//! instead of filling memory.

use std::sync::Arc;

use bytes::Bytes;
use sealcast_keyserver::{KeyFingerprint, MasterPublicKey, SealedKey};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::db::{now_ms, Db};
use crate::storage::{bytes_stream, ObjectKey, ObjectPrefix, ObjectStore, StorageError};
use crate::videos::layout;

/// Outputs waiting for upload; each is at most one segment.
const UPLOAD_QUEUE: usize = 4;

/// Where one job's outputs go.
pub struct JobOutputs {
    db: Db,
    video_id: String,
    master: KeyFingerprint,
    queue: Option<mpsc::Sender<(ObjectKey, Bytes)>>,
    uploader: Option<JoinHandle<Result<(), StorageError>>>,
}

impl JobOutputs {
    pub fn new(
        storage: Arc<dyn ObjectStore>,
        db: Db,
        video_id: String,
        master_public: &MasterPublicKey,
    ) -> Self {
        let (tx, mut rx) = mpsc::channel::<(ObjectKey, Bytes)>(UPLOAD_QUEUE);
        let uploader = tokio::spawn(async move {
            while let Some((key, bytes)) = rx.recv().await {
                storage.put(&key, bytes_stream(bytes)).await?;
            }
            Ok(())
        });
        Self {
            db,
            video_id,
            master: KeyFingerprint::of(master_public),
            queue: Some(tx),
            uploader: Some(uploader),
        }
    }

    /// Stores a sealed content key; it must be sealed to our key server.
    pub async fn key(&mut self, key_id: &str, sealed: &str) -> Result<(), String> {
        if !valid_name(key_id) {
            return Err("a content key with a malformed id".into());
        }
        let sealed = SealedKey::from_base64(sealed).map_err(|e| format!("a sealed key: {e}"))?;
        if sealed.recipient_fingerprint() != self.master {
            return Err("a content key sealed to another key".into());
        }
        sqlx::query(
            "INSERT INTO content_keys (video_id, key_id, sealed, master_fingerprint, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&self.video_id)
        .bind(key_id)
        .bind(sealed.to_base64())
        .bind(sealed.recipient_fingerprint().to_hex())
        .bind(now_ms())
        .execute(&self.db.pool)
        .await
        .map_err(|e| format!("storing a sealed key: {e}"))?;
        Ok(())
    }

    /// Queues an output for upload; its path must be one a ladder has.
    pub async fn put(&mut self, path: &str, bytes: Vec<u8>) -> Result<(), String> {
        let key = self.object_key(path)?;
        let Some(queue) = &self.queue else {
            return Err("outputs already finished".into());
        };
        if queue.send((key, Bytes::from(bytes))).await.is_err() {
            return Err(self
                .finish()
                .await
                .err()
                .unwrap_or_else(|| "uploader stopped".into()));
        }
        Ok(())
    }

    /// Waits for every queued upload; call after a successful transcode.
    pub async fn finish(&mut self) -> Result<(), String> {
        self.queue.take();
        match self.uploader.take() {
            Some(task) => match task.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(err)) => Err(format!("upload failed: {err}")),
                Err(err) => Err(format!("uploader stopped: {err}")),
            },
            None => Ok(()),
        }
    }

    fn object_key(&self, path: &str) -> Result<ObjectKey, String> {
        let segments: Vec<&str> = path.split('/').collect();
        if segments.len() > 2 || !segments.iter().all(|s| valid_name(s)) {
            return Err("an output with a malformed path".into());
        }
        let key = if path == "poster.jpg" {
            layout::poster_key(&self.video_id)
        } else {
            format!("{}{path}", layout::hls_prefix(&self.video_id))
        };
        ObjectKey::new(key).map_err(|e| e.to_string())
    }
}

impl Drop for JobOutputs {
    fn drop(&mut self) {
        if let Some(task) = self.uploader.take() {
            task.abort();
        }
    }
}

/// A file name the transcoder would produce: `[A-Za-z0-9_.-]`, not hidden.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Removes everything a job produced for `video_id`: objects and sealed keys.
pub async fn discard_outputs(
    storage: &dyn ObjectStore,
    db: &Db,
    video_id: &str,
) -> Result<(), String> {
    let prefix = ObjectPrefix::new(layout::video_prefix(video_id)).map_err(|e| e.to_string())?;
    storage
        .delete_prefix(&prefix)
        .await
        .map_err(|e| e.to_string())?;
    sqlx::query("DELETE FROM content_keys WHERE video_id = $1")
        .bind(video_id)
        .execute(&db.pool)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn output_names_cannot_climb_out_of_the_ladder() {
        for name in ["seg_00001.ts", "720p", "master.m3u8", "poster.jpg", "k-1"] {
            assert!(valid_name(name), "{name}");
        }
        for name in ["", "..", ".hidden", "a b", "a\\b", "ä", &"x".repeat(129)] {
            assert!(!valid_name(name), "{name}");
        }
    }
}
