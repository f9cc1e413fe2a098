//! Where data lives: the database and the object store.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::checks::given;
use super::ConfigError;
use crate::storage::{S3Options, StorageConfig};

#[derive(clap::Args, Serialize, Deserialize, Debug, Default, Clone)]
#[command(next_help_heading = "Database and object storage")]
pub struct StorageArgs {
    /// `sqlite://PATH` or `postgres://…`; default: SQLite in the data dir.
    #[arg(long, env = "SEALCAST_DATABASE_URL")]
    pub database_url: Option<String>,
    /// `file:///path` or `s3://bucket/prefix`; default: `<data dir>/objects`.
    #[arg(long, env = "SEALCAST_STORAGE")]
    pub storage: Option<String>,
    /// Custom S3 endpoint (Garage, MinIO); implies path-style addressing.
    #[arg(long, env = "SEALCAST_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// S3 region; default `us-east-1`, or `AWS_REGION` from the credential chain.
    #[arg(long, env = "SEALCAST_S3_REGION")]
    pub s3_region: Option<String>,
    /// Objects larger than this many MiB are uploaded to S3 in parts.
    #[arg(long, env = "SEALCAST_S3_PART_SIZE_MIB")]
    pub s3_part_size_mib: Option<u64>,
    /// MiB of encrypted segments kept in memory, shared by every learner
    /// watching them (0 turns it off; segments over 16 MiB always stream).
    #[arg(long, env = "SEALCAST_SEGMENT_CACHE_MIB")]
    pub segment_cache_mib: Option<u64>,
    /// Behind nginx: answer a segment request, once every check has passed,
    /// with `X-Accel-Redirect: {prefix}{object key}` and let nginx send the
    /// file (sendfile). File storage only; `deploy/nginx/` has the config.
    /// Example: `/_sealcast_objects/`.
    #[arg(long, env = "SEALCAST_SEGMENT_REDIRECT_PREFIX")]
    pub segment_redirect_prefix: Option<String>,
}

impl StorageArgs {
    /// The database and the store default to places in the data dir, so only
    /// the part size has a fixed default.
    pub(super) fn defaults() -> Self {
        Self {
            s3_part_size_mib: Some(8),
            segment_cache_mib: Some(128),
            ..Self::default()
        }
    }

    pub(super) fn database_url(&self, data_dir: &Path) -> Result<String, ConfigError> {
        let Some(url) = &self.database_url else {
            let file = data_dir.join("sealcast.db");
            return Ok(format!("sqlite://{}", file.to_string_lossy()));
        };
        if ["sqlite:", "postgres://", "postgresql://"]
            .iter()
            .any(|scheme| url.starts_with(scheme))
        {
            Ok(url.clone())
        } else {
            Err(ConfigError::new(
                "database_url",
                "must start with `sqlite:` or `postgres://`",
            ))
        }
    }

    /// The hot-segment budget in bytes, at most 64 GiB.
    pub(super) fn segment_cache_bytes(&self) -> Result<usize, ConfigError> {
        let mib = given("segment_cache_mib", self.segment_cache_mib)?;
        if mib > 64 * 1024 {
            return Err(ConfigError::new(
                "segment_cache_mib",
                "at most 65536 (64 GiB)",
            ));
        }
        Ok((mib as usize) << 20)
    }

    /// The `X-Accel-Redirect` prefix: an absolute path of plain names that
    /// nginx maps onto the objects folder, so only file storage has one.
    pub(super) fn segment_redirect(
        &self,
        storage: &StorageConfig,
    ) -> Result<Option<String>, ConfigError> {
        let Some(prefix) = &self.segment_redirect_prefix else {
            return Ok(None);
        };
        let plain = prefix.len() <= 64
            && prefix.starts_with('/')
            && prefix.ends_with('/')
            && prefix.len() > 2
            && !prefix.contains("//")
            && prefix.split('/').all(|s| s != "." && s != "..")
            && (prefix.bytes()).all(|b| b.is_ascii_alphanumeric() || b"/_-.".contains(&b));
        if !plain {
            return Err(ConfigError::new(
                "segment_redirect_prefix",
                "must be a path like `/_sealcast_objects/` (letters, digits, `_-.`, ending in `/`)",
            ));
        }
        if !matches!(storage, StorageConfig::File { .. }) {
            return Err(ConfigError::new(
                "segment_redirect_prefix",
                "needs file storage: nginx sends the files from the objects folder",
            ));
        }
        Ok(Some(prefix.clone()))
    }

    pub(super) fn location(&self, data_dir: &Path) -> Result<StorageConfig, ConfigError> {
        let s3 = S3Options {
            endpoint: self.s3_endpoint.clone(),
            region: self.s3_region.clone(),
            part_size_mib: given("s3_part_size_mib", self.s3_part_size_mib)?,
        };
        Ok(StorageConfig::parse(
            self.storage.as_deref(),
            data_dir.join("objects"),
            s3,
        )?)
    }
}
