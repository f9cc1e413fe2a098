//! Checks shared by the concerns: a merged value is present, in range, a duration.

use std::fmt::Display;
use std::ops::RangeInclusive;
use std::time::Duration;

use super::ConfigError;

/// The merged value of a setting that has a default. The defaults layer sets
/// every such setting, so `None` means the setting was left out of `defaults()`.
pub(super) fn given<T>(setting: &'static str, value: Option<T>) -> Result<T, ConfigError> {
    value.ok_or_else(|| ConfigError::new(setting, "has no value and no default"))
}

/// The merged value of a setting with a default, refused outside `range`.
pub(super) fn within<T: PartialOrd + Display>(
    setting: &'static str,
    value: Option<T>,
    range: RangeInclusive<T>,
) -> Result<T, ConfigError> {
    let value = given(setting, value)?;
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::new(
            setting,
            format!("{value} is not within {}..={}", range.start(), range.end()),
        ))
    }
}

/// A count of seconds with a default, refused outside `range`.
pub(super) fn seconds(
    setting: &'static str,
    value: Option<u64>,
    range: RangeInclusive<u64>,
) -> Result<Duration, ConfigError> {
    within(setting, value, range).map(Duration::from_secs)
}

/// Whether `url` is an absolute http(s) URL (origins, endpoints, JWKS).
pub(super) fn is_http_url(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

/// Where keys may be fetched from: https, or plain http to this machine only
/// (a key set fetched in the clear could be swapped on the way).
pub(super) fn is_trusted_fetch_url(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    let host = parsed.host_str().unwrap_or("");
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match parsed.scheme() {
        "https" => !host.is_empty(),
        "http" => {
            host.eq_ignore_ascii_case("localhost")
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        _ => false,
    }
}

/// The merged value of a setting with a default, refused below `min`.
pub(super) fn at_least<T: PartialOrd + Display>(
    setting: &'static str,
    value: Option<T>,
    min: T,
) -> Result<T, ConfigError> {
    let value = given(setting, value)?;
    if value >= min {
        Ok(value)
    } else {
        Err(ConfigError::new(setting, format!("must be at least {min}")))
    }
}
