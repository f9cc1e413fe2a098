//! S3 objects (AWS, Garage, MinIO) through aws-sdk-s3.
//!
//! Small objects go up in one PutObject. Larger ones become a multipart
//! upload whose parts are uploaded concurrently; at most `part_concurrency`
//! parts are in memory at once, and any failure aborts the upload so no
//! partial object (and no orphaned parts) remain.

use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_s3::config::{
    Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::operation::upload_part::builders::UploadPartFluentBuilder;
use aws_sdk_s3::primitives::ByteStream as S3Body;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use bytes::BytesMut;
use futures::{StreamExt, TryStreamExt};
use tokio_util::io::ReaderStream;

use super::{
    Appended, ByteRange, ByteStream, Checkpoints, ObjectBody, ObjectKey, ObjectMeta, ObjectPrefix,
    ObjectStore, StorageError, UploadProgress,
};

mod errors;
mod multipart;
mod resumable;

use errors::{map_sdk_err, parse_total_from_content_range};
use multipart::PartReader;

#[derive(Debug, Clone)]
pub struct S3Settings {
    pub bucket: String,
    /// Key prefix inside the bucket, without leading or trailing `/`.
    pub prefix: String,
    /// Custom endpoint (Garage, MinIO); path-style addressing is always used.
    pub endpoint: Option<String>,
    pub region: String,
    /// Part size and multipart threshold, in bytes (≥ 5 MiB).
    pub part_size: usize,
    /// Parts uploaded at once.
    pub part_concurrency: usize,
}

#[derive(Clone)]
pub struct S3Store {
    client: Client,
    settings: Arc<S3Settings>,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl S3Store {
    /// Builds a client from the standard AWS credential chain. It does not
    /// contact the server, so an unreachable S3 never stops the process.
    pub async fn connect(settings: S3Settings) -> Self {
        Self::connect_with(settings, None).await
    }

    /// Like [`S3Store::connect`] with explicit credentials instead of the chain
    /// (tests, and embedding the store in another program).
    pub async fn connect_with(settings: S3Settings, credentials: Option<Credentials>) -> Self {
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3))
            .operation_attempt_timeout(Duration::from_secs(60))
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(settings.region.clone()))
            .timeout_config(timeouts);
        if let Some(credentials) = credentials {
            loader = loader.credentials_provider(credentials);
        }
        let sdk = loader.load().await;
        let mut builder = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if let Some(endpoint) = &settings.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        Self {
            client: Client::from_conf(builder.build()),
            settings: Arc::new(settings),
        }
    }

    fn full_key(&self, key: &str) -> String {
        if self.settings.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{}", self.settings.prefix, key)
        }
    }

    /// Starts a multipart upload of the full key `full`; returns its upload id.
    async fn create_multipart(&self, full: &str) -> Result<String, StorageError> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.settings.bucket)
            .key(full)
            .send()
            .await
            .map_err(map_sdk_err)?;
        created
            .upload_id()
            .map(str::to_string)
            .ok_or_else(|| StorageError::Backend("no upload id".into()))
    }

    /// A part upload, built but not sent, so a caller can send it from a task.
    fn upload_part_request(
        &self,
        full: &str,
        upload_id: &str,
        number: i32,
        body: S3Body,
    ) -> UploadPartFluentBuilder {
        self.client
            .upload_part()
            .bucket(&self.settings.bucket)
            .key(full)
            .upload_id(upload_id)
            .part_number(number)
            .body(body)
    }

    /// Makes the parts of a multipart upload one object.
    async fn complete_multipart(
        &self,
        full: &str,
        upload_id: &str,
        parts: Vec<CompletedPart>,
    ) -> Result<(), StorageError> {
        self.client
            .complete_multipart_upload()
            .bucket(&self.settings.bucket)
            .key(full)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(map_sdk_err)
    }

    /// Stores `body` in one PutObject under the full key `full`.
    async fn put_object(&self, full: &str, body: S3Body) -> Result<(), StorageError> {
        self.client
            .put_object()
            .bucket(&self.settings.bucket)
            .key(full)
            .body(body)
            .send()
            .await
            .map(|_| ())
            .map_err(map_sdk_err)
    }

    async fn delete_object(&self, full: &str) -> Result<(), StorageError> {
        self.client
            .delete_object()
            .bucket(&self.settings.bucket)
            .key(full)
            .send()
            .await
            .map(|_| ())
            .map_err(map_sdk_err)
    }

    /// Aborts a multipart upload so S3 drops its parts; one already gone is
    /// fine, any other failure is only logged (the upload is being given up).
    async fn abort_multipart(&self, full: &str, upload_id: &str) {
        let result = self
            .client
            .abort_multipart_upload()
            .bucket(&self.settings.bucket)
            .key(full)
            .upload_id(upload_id)
            .send()
            .await;
        match result.map_err(map_sdk_err) {
            Ok(_) | Err(StorageError::NotFound) => {}
            Err(err) => {
                tracing::warn!(key = %full, error = %err, "aborting a multipart upload failed")
            }
        }
    }

    fn strip_prefix<'a>(&self, full: &'a str) -> &'a str {
        if self.settings.prefix.is_empty() {
            full
        } else {
            full.strip_prefix(&self.settings.prefix)
                .and_then(|s| s.strip_prefix('/'))
                .unwrap_or(full)
        }
    }
}

#[async_trait::async_trait]
impl ObjectStore for S3Store {
    async fn put(&self, key: &ObjectKey, body: ByteStream) -> Result<u64, StorageError> {
        let full = self.full_key(key.as_str());
        let mut reader = PartReader {
            body,
            pending: BytesMut::new(),
            part_size: self.settings.part_size,
            ended: false,
        };
        let first = reader.next_part().await?.unwrap_or_default();
        if reader.ended && reader.pending.is_empty() {
            let len = first.len() as u64;
            self.put_object(&full, S3Body::from(first)).await?;
            return Ok(len);
        }
        self.put_multipart(full, first, &mut reader).await
    }

    async fn get(
        &self,
        key: &ObjectKey,
        range: Option<ByteRange>,
    ) -> Result<ObjectBody, StorageError> {
        let mut request = self
            .client
            .get_object()
            .bucket(&self.settings.bucket)
            .key(self.full_key(key.as_str()));
        if let Some(r) = range {
            let header = match r.end {
                Some(end) if end < r.start => return Err(StorageError::InvalidRange),
                Some(end) => format!("bytes={}-{}", r.start, end),
                None => format!("bytes={}-", r.start),
            };
            request = request.range(header);
        }
        let out = request.send().await.map_err(map_sdk_err)?;
        let length = out.content_length().unwrap_or(0).max(0) as u64;
        let size = match (range, out.content_range()) {
            (Some(_), Some(cr)) => parse_total_from_content_range(cr)
                .ok_or_else(|| StorageError::Backend(format!("bad Content-Range {cr}")))?,
            _ => length,
        };
        let start = range.map_or(0, |r| r.start);
        let end = if length == 0 {
            start
        } else {
            start + length - 1
        };
        let reader = out.body.into_async_read();
        let stream = ReaderStream::with_capacity(reader, 64 * 1024);
        Ok(ObjectBody {
            size,
            range: (start, end),
            stream: Box::pin(stream),
        })
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, StorageError> {
        let result = self
            .client
            .head_object()
            .bucket(&self.settings.bucket)
            .key(self.full_key(key.as_str()))
            .send()
            .await;
        match result {
            Ok(out) => Ok(Some(ObjectMeta {
                key: key.as_str().to_string(),
                size: out.content_length().unwrap_or(0).max(0) as u64,
            })),
            Err(err) => match map_sdk_err(err) {
                StorageError::NotFound => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError> {
        match self.delete_object(&self.full_key(key.as_str())).await {
            Ok(_) | Err(StorageError::NotFound) => Ok(()),
            Err(other) => Err(other),
        }
    }

    async fn list(&self, prefix: &ObjectPrefix) -> Result<Vec<ObjectMeta>, StorageError> {
        let pages = self
            .client
            .list_objects_v2()
            .bucket(&self.settings.bucket)
            .prefix(self.full_key(prefix.as_str()))
            .into_paginator()
            .send();
        let pages: Vec<_> = pages.try_collect().await.map_err(map_sdk_err)?;
        let mut out: Vec<ObjectMeta> = pages
            .iter()
            .flat_map(|page| page.contents())
            .filter_map(|obj| {
                Some(ObjectMeta {
                    key: self.strip_prefix(obj.key()?).to_string(),
                    size: obj.size().unwrap_or(0).max(0) as u64,
                })
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn delete_prefix(&self, prefix: &ObjectPrefix) -> Result<u64, StorageError> {
        let objects = self.list(prefix).await?;
        let count = objects.len() as u64;
        futures::stream::iter(objects)
            .map(|meta| async move { self.delete(&ObjectKey::new(meta.key)?).await })
            .buffer_unordered(16)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(count)
    }

    async fn begin_upload(
        &self,
        key: &ObjectKey,
        length: u64,
    ) -> Result<UploadProgress, StorageError> {
        self.begin_upload_s3(key, length).await
    }

    async fn append_checkpointed(
        &self,
        key: &ObjectKey,
        at: &UploadProgress,
        body: ByteStream,
        checkpoints: Checkpoints,
    ) -> Result<Appended, StorageError> {
        self.append_upload_s3(key, at, body, checkpoints).await
    }

    async fn commit_append(&self, key: &ObjectKey, old: &UploadProgress, new: &UploadProgress) {
        self.commit_append_s3(key, old, new).await
    }

    async fn rollback_append(&self, key: &ObjectKey, old: &UploadProgress, new: &UploadProgress) {
        self.rollback_append_s3(key, old, new).await
    }

    async fn finish_upload(
        &self,
        key: &ObjectKey,
        at: &UploadProgress,
    ) -> Result<(), StorageError> {
        self.finish_upload_s3(key, at).await
    }

    async fn abort_upload(&self, key: &ObjectKey, at: &UploadProgress) -> Result<(), StorageError> {
        self.abort_upload_s3(key, at).await
    }

    async fn check(&self) -> Result<(), StorageError> {
        self.client
            .head_bucket()
            .bucket(&self.settings.bucket)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| match map_sdk_err(err) {
                StorageError::NotFound => StorageError::Unavailable(format!(
                    "bucket `{}` does not exist",
                    self.settings.bucket
                )),
                other => other,
            })
    }

    fn describe(&self) -> String {
        format!(
            "s3://{}/{} (endpoint {}, region {})",
            self.settings.bucket,
            self.settings.prefix,
            self.settings.endpoint.as_deref().unwrap_or("aws"),
            self.settings.region
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[tokio::test]
    async fn part_reader_cuts_exact_parts() {
        let chunks: Vec<std::io::Result<Bytes>> =
            (0..10).map(|i| Ok(Bytes::from(vec![i as u8; 3]))).collect();
        let mut reader = PartReader {
            body: Box::pin(futures::stream::iter(chunks)),
            pending: BytesMut::new(),
            part_size: 7,
            ended: false,
        };
        let mut sizes = Vec::new();
        while let Some(part) = reader.next_part().await.unwrap() {
            sizes.push(part.len());
        }
        assert_eq!(sizes, vec![7, 7, 7, 7, 2]);
    }

    #[test]
    fn content_range_total() {
        assert_eq!(parse_total_from_content_range("bytes 0-9/1234"), Some(1234));
        assert_eq!(parse_total_from_content_range("bytes */*"), None);
    }
}
