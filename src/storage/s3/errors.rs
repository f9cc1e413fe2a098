//! S3 errors in storage terms: unreachable or misconfigured is
//! `Unavailable` (retry later), a missing object `NotFound`.

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::storage::StorageError;

pub(super) fn map_sdk_err<E, R>(err: SdkError<E, R>) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match &err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            StorageError::Unavailable(DisplayErrorContext(&err).to_string())
        }
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("");
            let raw = format!("{:?}", service.raw());
            match code {
                "NoSuchKey" | "NotFound" | "NoSuchUpload" => StorageError::NotFound,
                "InvalidRange" => StorageError::InvalidRange,
                "NoSuchBucket"
                | "AccessDenied"
                | "InvalidAccessKeyId"
                | "SignatureDoesNotMatch" => StorageError::Unavailable(format!(
                    "{code}: {}",
                    service.err().message().unwrap_or("")
                )),
                _ if raw.contains("StatusCode(404)") || raw.contains("status: 404") => {
                    StorageError::NotFound
                }
                _ if raw.contains("StatusCode(416)") || raw.contains("status: 416") => {
                    StorageError::InvalidRange
                }
                _ => StorageError::Backend(DisplayErrorContext(&err).to_string()),
            }
        }
        _ => StorageError::Backend(DisplayErrorContext(&err).to_string()),
    }
}

pub(super) fn parse_total_from_content_range(value: &str) -> Option<u64> {
    value
        .rsplit_once('/')
        .and_then(|(_, total)| total.trim().parse().ok())
}
