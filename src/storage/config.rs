//! Where objects live, as an operator writes it: `file:///path` or `s3://bucket/prefix`.
//!
//! Parsing lives beside the backends it selects, so storage needs nothing from
//! the configuration module; a refusal names the setting it came from.

use std::path::PathBuf;

use super::ObjectPrefix;

/// Where objects live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageConfig {
    File {
        root: PathBuf,
    },
    S3 {
        bucket: String,
        prefix: String,
        endpoint: Option<String>,
        region: String,
        part_size: usize,
    },
}

/// The settings that go with an `s3://` location.
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    /// A custom endpoint (Garage, MinIO).
    pub endpoint: Option<String>,
    /// `None`: `AWS_REGION`, else `us-east-1`.
    pub region: Option<String>,
    /// Objects larger than this are uploaded in parts of this size.
    pub part_size_mib: u64,
}

/// A storage setting that cannot be used; `setting` is its configuration name.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting `{setting}`: {reason}")]
pub struct InvalidStorageSetting {
    pub setting: &'static str,
    pub reason: String,
}

/// S3 refuses parts below 5 MiB (except the last); above 512 MiB buys nothing.
const PART_SIZE_MIB: std::ops::RangeInclusive<u64> = 5..=512;

fn refuse(setting: &'static str, reason: impl Into<String>) -> InvalidStorageSetting {
    InvalidStorageSetting {
        setting,
        reason: reason.into(),
    }
}

impl StorageConfig {
    /// Reads a location; none means local files under `default_root`.
    pub fn parse(
        location: Option<&str>,
        default_root: PathBuf,
        s3: S3Options,
    ) -> Result<Self, InvalidStorageSetting> {
        if !PART_SIZE_MIB.contains(&s3.part_size_mib) {
            return Err(refuse(
                "s3_part_size_mib",
                format!(
                    "{} is outside 5..=512 (S3 parts are at least 5 MiB)",
                    s3.part_size_mib
                ),
            ));
        }
        let Some(location) = location else {
            return Ok(StorageConfig::File { root: default_root });
        };
        if let Some(path) = location.strip_prefix("file://") {
            if path.is_empty() {
                return Err(refuse(
                    "storage",
                    "file:// needs a path, e.g. file:///var/lib/sealcast",
                ));
            }
            return Ok(StorageConfig::File {
                root: PathBuf::from(path),
            });
        }
        if let Some(rest) = location.strip_prefix("s3://") {
            return parse_s3(rest, s3);
        }
        Err(refuse(
            "storage",
            format!("`{location}` is not file:///path or s3://bucket/prefix"),
        ))
    }
}

fn parse_s3(rest: &str, s3: S3Options) -> Result<StorageConfig, InvalidStorageSetting> {
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if !bucket_ok {
        return Err(refuse(
            "storage",
            format!("`{bucket}` is not a valid S3 bucket name"),
        ));
    }
    let prefix = prefix.trim_matches('/');
    if !prefix.is_empty() {
        ObjectPrefix::new(format!("{prefix}/"))
            .map_err(|e| refuse("storage", format!("bad prefix: {e}")))?;
    }
    if let Some(endpoint) = &s3.endpoint {
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(refuse("s3_endpoint", "must be an http:// or https:// URL"));
        }
    }
    let region = s3
        .region
        .or_else(|| std::env::var("AWS_REGION").ok())
        .unwrap_or_else(|| "us-east-1".into());
    Ok(StorageConfig::S3 {
        bucket: bucket.to_string(),
        prefix: prefix.to_string(),
        endpoint: s3.endpoint,
        region,
        part_size: (s3.part_size_mib as usize) * 1024 * 1024,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(part_size_mib: u64) -> S3Options {
        S3Options {
            endpoint: Some("http://127.0.0.1:3900".into()),
            region: Some("garage".into()),
            part_size_mib,
        }
    }

    #[test]
    fn no_location_means_files_under_the_default_root() {
        let c = StorageConfig::parse(None, "/d/objects".into(), s3(8)).unwrap();
        assert_eq!(
            c,
            StorageConfig::File {
                root: "/d/objects".into()
            }
        );
    }

    #[test]
    fn s3_location_parses_bucket_and_prefix() {
        let c = StorageConfig::parse(Some("s3://videos/prod/sealcast/"), "/d".into(), s3(8));
        assert_eq!(
            c.unwrap(),
            StorageConfig::S3 {
                bucket: "videos".into(),
                prefix: "prod/sealcast".into(),
                endpoint: Some("http://127.0.0.1:3900".into()),
                region: "garage".into(),
                part_size: 8 * 1024 * 1024,
            }
        );
    }

    #[test]
    fn refusals_name_their_setting() {
        for (location, part_mib, setting) in [
            (Some("ftp://x"), 8, "storage"),
            (Some("file://"), 8, "storage"),
            (Some("s3://A_B"), 8, "storage"),
            (Some("s3://bucket/../up"), 8, "storage"),
            (None, 1, "s3_part_size_mib"),
        ] {
            let err = StorageConfig::parse(location, "/d".into(), s3(part_mib)).unwrap_err();
            assert_eq!(err.setting, setting, "{location:?}: {err}");
        }
        let bad_endpoint = S3Options {
            endpoint: Some("ftp://x".into()),
            ..s3(8)
        };
        let err = StorageConfig::parse(Some("s3://bucket"), "/d".into(), bad_endpoint).unwrap_err();
        assert_eq!(err.setting, "s3_endpoint");
    }
}
