//! The transcoder's output sink inside a job process: segments and playlists
//! to object storage as they are produced, content keys sealed to the key
//! server's public key into the database.
//!
//! Uploads run on one background task in production order, so they overlap
//! encoding but `master.m3u8` (always last) still lands last: its presence
//! means the set is complete. The queue between the two is bounded, so a slow
//! store slows the encoder instead of filling memory.

use std::sync::Arc;

use bytes::Bytes;
use sealcast_keyserver::{seal, KeyContext, MasterPublicKey};
use sealcast_transcoder::{ContentKey, OutputSink, SinkError};
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::db::{now_ms, Db};
use crate::playback::key_placeholder;
use crate::storage::{bytes_stream, ObjectKey, ObjectPrefix, ObjectStore, StorageError};
use crate::videos::layout;

/// Outputs waiting for upload; each is at most one segment.
const UPLOAD_QUEUE: usize = 4;

pub struct StorageSink {
    rt: Handle,
    storage: Arc<dyn ObjectStore>,
    db: Db,
    video_id: String,
    master_public: MasterPublicKey,
    queue: Option<mpsc::Sender<(ObjectKey, Bytes)>>,
    uploader: Option<JoinHandle<Result<(), StorageError>>>,
}

impl StorageSink {
    pub fn new(
        rt: Handle,
        storage: Arc<dyn ObjectStore>,
        db: Db,
        video_id: String,
        master_public: MasterPublicKey,
    ) -> Self {
        let (tx, mut rx) = mpsc::channel::<(ObjectKey, Bytes)>(UPLOAD_QUEUE);
        let store = storage.clone();
        let uploader = rt.spawn(async move {
            while let Some((key, bytes)) = rx.recv().await {
                store.put(&key, bytes_stream(bytes)).await?;
            }
            Ok(())
        });
        Self {
            rt,
            storage,
            db,
            video_id,
            master_public,
            queue: Some(tx),
            uploader: Some(uploader),
        }
    }

    fn object_key(&self, path: &str) -> Result<ObjectKey, SinkError> {
        let key = if path == "poster.jpg" {
            layout::poster_key(&self.video_id)
        } else {
            format!("{}{path}", layout::hls_prefix(&self.video_id))
        };
        ObjectKey::new(key).map_err(|e| SinkError::new(e.to_string()))
    }

    /// Waits for every queued upload; call after a successful transcode.
    pub fn finish(&mut self) -> Result<(), SinkError> {
        self.queue.take();
        match self.uploader.take() {
            Some(task) => match self.rt.block_on(task) {
                Ok(Ok(())) => Ok(()),
                Ok(Err(err)) => Err(SinkError::new(format!("upload failed: {err}"))),
                Err(err) => Err(SinkError::new(format!("uploader stopped: {err}"))),
            },
            None => Ok(()),
        }
    }

    /// Why the uploader stopped early, if it did.
    fn uploader_error(&mut self) -> SinkError {
        match self.finish() {
            Err(err) => err,
            Ok(()) => SinkError::new("uploader stopped"),
        }
    }
}

impl OutputSink for StorageSink {
    fn content_key(&mut self, key: &ContentKey) -> Result<String, SinkError> {
        let key_id = key.id.to_string();
        let ctx = KeyContext {
            video_id: &self.video_id,
            key_id: &key_id,
        };
        let sealed =
            seal(&self.master_public, &ctx, &key.key).map_err(|e| SinkError::new(e.to_string()))?;
        let insert = sqlx::query(
            "INSERT INTO content_keys (video_id, key_id, sealed, master_fingerprint, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&self.video_id)
        .bind(&key_id)
        .bind(sealed.to_base64())
        .bind(sealed.recipient_fingerprint().to_hex())
        .bind(now_ms())
        .execute(&self.db.pool);
        self.rt
            .block_on(insert)
            .map_err(|e| SinkError::new(format!("storing sealed key: {e}")))?;
        Ok(key_placeholder(&key_id))
    }

    fn put(&mut self, path: &str, bytes: &[u8]) -> Result<(), SinkError> {
        let key = self.object_key(path)?;
        let Some(queue) = &self.queue else {
            return Err(SinkError::new("sink already finished"));
        };
        if queue
            .blocking_send((key, Bytes::copy_from_slice(bytes)))
            .is_err()
        {
            return Err(self.uploader_error());
        }
        Ok(())
    }

    fn abort(&mut self) {
        let _ = self.finish();
        if let Err(err) = self.rt.block_on(discard_outputs(
            self.storage.as_ref(),
            &self.db,
            &self.video_id,
        )) {
            tracing::warn!(video_id = %self.video_id, error = %err, "cleaning up a failed job");
        }
    }
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
