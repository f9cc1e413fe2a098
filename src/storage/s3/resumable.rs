//! Resumable uploads on S3: one multipart upload per upload.
//!
//! Parts are cut at `part_size` (≥ 5 MiB, S3's minimum for all but the last
//! part) in a temp file on local disk, so an upload costs at most one part of
//! disk and a few chunks of memory however large it is. Bytes that do not yet
//! fill a part when a request ends are kept in a side object named after
//! where they start and how many they are (`<key>.pending-<start>-<len>`), so
//! the next request, on any node, picks them up; a new append never
//! overwrites the side object the previous state points to, which makes a
//! rollback a matter of deleting what the refused append wrote.

use std::io::SeekFrom;
use std::path::Path;

use aws_sdk_s3::primitives::ByteStream as S3Body;
use aws_sdk_s3::types::CompletedPart;
use futures::StreamExt;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use super::{map_sdk_err, S3Store};
use crate::storage::{
    Appended, ByteStream, Checkpoints, ObjectKey, ObjectPrefix, ObjectStore, StorageError,
    UploadProgress, UploadedPart,
};

/// The side object holding the bytes of `at` that are not in a part yet.
fn pending_key(full: &str, at: &UploadProgress) -> Option<String> {
    let len = at.pending();
    (len > 0).then(|| format!("{full}.pending-{}-{len}", at.parts_total()))
}

/// The part spool as a request body.
async fn spool_body(path: &Path) -> Result<S3Body, StorageError> {
    S3Body::from_path(path)
        .await
        .map_err(|e| StorageError::Backend(format!("reading the part spool: {e}")))
}

impl S3Store {
    pub(super) async fn begin_upload_s3(
        &self,
        key: &ObjectKey,
        length: u64,
    ) -> Result<UploadProgress, StorageError> {
        let id = self.create_multipart(&self.full_key(key.as_str())).await?;
        Ok(UploadProgress {
            multipart_id: Some(id),
            ..UploadProgress::new(length)
        })
    }

    pub(super) async fn append_upload_s3(
        &self,
        key: &ObjectKey,
        at: &UploadProgress,
        mut body: ByteStream,
        checkpoints: Checkpoints,
    ) -> Result<Appended, StorageError> {
        let full = self.full_key(key.as_str());
        let upload_id = at
            .multipart_id
            .clone()
            .ok_or_else(|| StorageError::Backend("upload has no multipart id".into()))?;
        let spool = tempfile::NamedTempFile::new()?;
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .open(spool.path())
            .await?;
        let mut buffered = 0u64;
        if let Some(pending) = pending_key(&full, at) {
            let out = self
                .client
                .get_object()
                .bucket(&self.settings.bucket)
                .key(&pending)
                .send()
                .await
                .map_err(map_sdk_err)?;
            let mut reader = out.body.into_async_read();
            buffered = tokio::io::copy(&mut reader, &mut file).await?;
            if buffered != at.pending() {
                return Err(StorageError::Backend(format!(
                    "pending bytes object holds {buffered}, expected {}",
                    at.pending()
                )));
            }
        }
        let mut progress = at.clone();
        let mut body_error = None;
        let part_size = self.settings.part_size as u64;
        loop {
            match body.next().await {
                Some(Ok(chunk)) => {
                    file.write_all(&chunk).await?;
                    buffered += chunk.len() as u64;
                    progress.offset += chunk.len() as u64;
                    if buffered >= part_size {
                        file.flush().await?;
                        let part = self
                            .upload_part_file(&full, &upload_id, &progress, spool.path())
                            .await?;
                        progress.parts.push(part);
                        // Every byte so far is in a part: durable as it stands.
                        checkpoints.report(&progress);
                        file.set_len(0).await?;
                        file.seek(SeekFrom::Start(0)).await?;
                        buffered = 0;
                    }
                }
                Some(Err(err)) => {
                    body_error = Some(err);
                    break;
                }
                None => break,
            }
        }
        file.flush().await?;
        if buffered > 0 {
            if progress.is_complete() {
                let part = self
                    .upload_part_file(&full, &upload_id, &progress, spool.path())
                    .await?;
                progress.parts.push(part);
            } else if pending_key(&full, &progress) != pending_key(&full, at) {
                let name = pending_key(&full, &progress).expect("bytes are pending");
                self.put_object(&name, spool_body(spool.path()).await?)
                    .await?;
            }
        }
        Ok(Appended {
            progress,
            body_error,
        })
    }

    async fn upload_part_file(
        &self,
        full: &str,
        upload_id: &str,
        progress: &UploadProgress,
        path: &Path,
    ) -> Result<UploadedPart, StorageError> {
        let size = tokio::fs::metadata(path).await?.len();
        let number = progress.parts.len() as i32 + 1;
        let out = self
            .upload_part_request(full, upload_id, number, spool_body(path).await?)
            .send()
            .await
            .map_err(map_sdk_err)?;
        Ok(UploadedPart {
            number,
            etag: out.e_tag().unwrap_or_default().to_string(),
            size,
        })
    }

    async fn delete_quietly(&self, full: String) {
        if let Err(err) = self.delete_object(&full).await {
            tracing::warn!(key = %full, error = %err, "deleting a pending-bytes object failed");
        }
    }

    pub(super) async fn commit_append_s3(
        &self,
        key: &ObjectKey,
        old: &UploadProgress,
        new: &UploadProgress,
    ) {
        self.drop_pending(key, old, new).await;
    }

    pub(super) async fn rollback_append_s3(
        &self,
        key: &ObjectKey,
        old: &UploadProgress,
        new: &UploadProgress,
    ) {
        // Parts uploaded by the refused append are simply uploaded again
        // under the same numbers later; only its side object must go.
        self.drop_pending(key, new, old).await;
    }

    /// Deletes the side object (pending bytes) of state `gone` unless state
    /// `kept` uses the same one: a commit drops the old state's, a rollback
    /// the new state's.
    async fn drop_pending(&self, key: &ObjectKey, gone: &UploadProgress, kept: &UploadProgress) {
        let full = self.full_key(key.as_str());
        if let Some(gone) = pending_key(&full, gone) {
            if Some(&gone) != pending_key(&full, kept).as_ref() {
                self.delete_quietly(gone).await;
            }
        }
    }

    pub(super) async fn finish_upload_s3(
        &self,
        key: &ObjectKey,
        at: &UploadProgress,
    ) -> Result<(), StorageError> {
        let full = self.full_key(key.as_str());
        let upload_id = at
            .multipart_id
            .as_deref()
            .ok_or_else(|| StorageError::Backend("upload has no multipart id".into()))?;
        if at.parts_total() != at.length || !at.is_complete() {
            return Err(StorageError::Backend(format!(
                "upload holds {} bytes in parts, expected {}",
                at.parts_total(),
                at.length
            )));
        }
        if at.parts.is_empty() {
            // An empty object: S3 can't complete a multipart upload with no part.
            self.abort_multipart(&full, upload_id).await;
            return self.put_object(&full, S3Body::from(Vec::new())).await;
        }
        let parts = at
            .parts
            .iter()
            .map(|p| {
                CompletedPart::builder()
                    .part_number(p.number)
                    .e_tag(&p.etag)
                    .build()
            })
            .collect();
        self.complete_multipart(&full, upload_id, parts).await?;
        self.delete_stray_pending(key).await;
        Ok(())
    }

    /// Side objects an interrupted request wrote but never recorded.
    async fn delete_stray_pending(&self, key: &ObjectKey) {
        let Ok(prefix) = ObjectPrefix::new(format!("{}.pending-", key.as_str())) else {
            return;
        };
        if let Err(err) = self.delete_prefix(&prefix).await {
            tracing::warn!(key = key.as_str(), error = %err, "removing stray pending-bytes objects failed");
        }
    }

    pub(super) async fn abort_upload_s3(
        &self,
        key: &ObjectKey,
        at: &UploadProgress,
    ) -> Result<(), StorageError> {
        let full = self.full_key(key.as_str());
        if let Some(pending) = pending_key(&full, at) {
            self.delete_quietly(pending).await;
        }
        if let Some(upload_id) = &at.multipart_id {
            self.abort_multipart(&full, upload_id).await;
        }
        self.delete_stray_pending(key).await;
        Ok(())
    }

    /// Multipart uploads S3 still holds under `prefix` (for sweeping and tests).
    pub async fn open_multipart_uploads(&self, prefix: &str) -> Result<usize, StorageError> {
        let out = self
            .client
            .list_multipart_uploads()
            .bucket(&self.settings.bucket)
            .prefix(self.full_key(prefix))
            .send()
            .await
            .map_err(map_sdk_err)?;
        Ok(out.uploads().len())
    }
}
