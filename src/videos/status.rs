//! The life of a video: `uploading → queued → processing → ready | failed`.

use std::fmt;

/// Where a video is in its life; stored as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VideoStatus {
    Uploading,
    Queued,
    Processing,
    Ready,
    Failed,
}

impl VideoStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VideoStatus::Uploading => "uploading",
            VideoStatus::Queued => "queued",
            VideoStatus::Processing => "processing",
            VideoStatus::Ready => "ready",
            VideoStatus::Failed => "failed",
        }
    }

    /// Ready or failed: nothing will change without a new upload.
    pub fn is_settled(self) -> bool {
        matches!(self, VideoStatus::Ready | VideoStatus::Failed)
    }
}

impl fmt::Display for VideoStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status the database holds that this build does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown video status `{0}`")]
pub struct UnknownStatus(String);

impl TryFrom<String> for VideoStatus {
    type Error = UnknownStatus;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Ok(match value.as_str() {
            "uploading" => VideoStatus::Uploading,
            "queued" => VideoStatus::Queued,
            "processing" => VideoStatus::Processing,
            "ready" => VideoStatus::Ready,
            "failed" => VideoStatus::Failed,
            _ => return Err(UnknownStatus(value)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in [
            VideoStatus::Uploading,
            VideoStatus::Queued,
            VideoStatus::Processing,
            VideoStatus::Ready,
            VideoStatus::Failed,
        ] {
            assert_eq!(VideoStatus::try_from(s.as_str().to_string()).unwrap(), s);
        }
        assert!(VideoStatus::try_from("done".to_string()).is_err());
    }
}
