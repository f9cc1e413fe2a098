//! Multipart uploads of whole objects: parts cut from the body stream,
//! uploaded concurrently with at most `part_concurrency` in memory, and the
//! upload aborted on any failure so no partial object or orphaned parts stay.

use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream as S3Body;
use aws_sdk_s3::types::CompletedPart;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::errors::map_sdk_err;
use super::S3Store;
use crate::storage::{ByteStream, StorageError};

impl S3Store {
    pub(super) async fn put_multipart(
        &self,
        key: String,
        first: Bytes,
        body: &mut PartReader,
    ) -> Result<u64, StorageError> {
        let upload_id = self.create_multipart(&key).await?;
        let uploaded = async {
            let (parts, total) = self.upload_parts(&key, &upload_id, first, body).await?;
            self.complete_multipart(&key, &upload_id, parts).await?;
            Ok(total)
        }
        .await;
        if uploaded.is_err() {
            self.abort_multipart(&key, &upload_id).await;
        }
        uploaded
    }

    pub(super) async fn upload_parts(
        &self,
        key: &str,
        upload_id: &str,
        first: Bytes,
        body: &mut PartReader,
    ) -> Result<(Vec<CompletedPart>, u64), StorageError> {
        let permits = Arc::new(Semaphore::new(self.settings.part_concurrency.max(1)));
        let mut tasks: JoinSet<Result<CompletedPart, StorageError>> = JoinSet::new();
        let mut parts = Vec::new();
        let mut total = 0u64;
        let mut next = Some(first);
        let mut number = 0i32;
        while let Some(part) = next.take() {
            number += 1;
            total += part.len() as u64;
            // A permit per part in memory: filling the next part waits until
            // one of the in-flight parts is done.
            let permit = permits
                .clone()
                .acquire_owned()
                .await
                .map_err(|e| StorageError::Backend(e.to_string()))?;
            let request = self.upload_part_request(key, upload_id, number, S3Body::from(part));
            tasks.spawn(async move {
                let out = request.send().await.map_err(map_sdk_err)?;
                drop(permit);
                Ok(CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(out.e_tag().map(str::to_string))
                    .build())
            });
            while let Some(done) = tasks.try_join_next() {
                parts.push(done.map_err(|e| StorageError::Backend(e.to_string()))??);
            }
            let permit = permits
                .clone()
                .acquire_owned()
                .await
                .map_err(|e| StorageError::Backend(e.to_string()))?;
            next = body.next_part().await?;
            drop(permit);
        }
        while let Some(done) = tasks.join_next().await {
            parts.push(done.map_err(|e| StorageError::Backend(e.to_string()))??);
        }
        parts.sort_by_key(|p| p.part_number());
        Ok((parts, total))
    }
}

/// Cuts a body stream into parts of exactly `part_size` bytes (the last may be shorter).
pub(super) struct PartReader {
    pub(super) body: ByteStream,
    pub(super) pending: BytesMut,
    pub(super) part_size: usize,
    pub(super) ended: bool,
}

impl PartReader {
    pub(super) async fn next_part(&mut self) -> Result<Option<Bytes>, StorageError> {
        while !self.ended && self.pending.len() < self.part_size {
            match self.body.next().await {
                Some(chunk) => self
                    .pending
                    .extend_from_slice(&chunk.map_err(StorageError::Body)?),
                None => self.ended = true,
            }
        }
        if self.pending.is_empty() {
            return Ok(None);
        }
        let take = self.pending.len().min(self.part_size);
        Ok(Some(self.pending.split_to(take).freeze()))
    }
}
