//! What can go wrong with an upload, in the domain's words; the tus layer
//! maps each to a status and a stable code.

use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("upload not found")]
    NotFound,
    #[error("course not found")]
    CourseNotFound,
    #[error("only the course's owner or an admin may upload to it")]
    NotCourseOwner,
    #[error("{0}")]
    BadMetadata(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("this upload would exceed your storage quota ({used} of {quota} bytes used)")]
    QuotaExceeded { used: u64, quota: u64 },
    #[error("this upload expired; start a new one")]
    Expired,
    #[error("another request is writing this upload; retry shortly")]
    Locked,
    #[error("Upload-Offset is {given} but the upload is at {stored}")]
    OffsetMismatch { given: u64, stored: u64 },
    #[error("the body ended early; its checksum cannot be verified")]
    BodyEndedEarly,
    #[error("the body does not match Upload-Checksum; it was discarded")]
    ChecksumMismatch,
    #[error("not a video: {0}")]
    NotAVideo(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl UploadError {
    /// Identity lookups made here fail only in the database.
    pub(crate) fn from_identity(err: crate::identity::IdentityError) -> Self {
        match err {
            crate::identity::IdentityError::Db(e) => UploadError::Db(e),
            other => UploadError::Db(sqlx::Error::Protocol(other.to_string())),
        }
    }
}

impl From<crate::videos::removal::RemoveError> for UploadError {
    fn from(err: crate::videos::removal::RemoveError) -> Self {
        use crate::videos::removal::RemoveError as E;
        match err {
            E::Db(e) => UploadError::Db(e),
            E::Storage(e) => UploadError::Storage(e),
        }
    }
}
