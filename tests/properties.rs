//! Property tests for the edge's parsers that face the network: tus headers
//! and metadata, storage keys (every object name a request can influence),
//! and the configuration a deployer types. Each asserts what an attacker
//! would need to break: a panic, a key that escapes its directory, a header
//! read differently from how it was written.

use std::path::{Component, Path};

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use base64::Engine;
use proptest::prelude::*;
use sealcast::http::tus::{expected_sha1, u64_header};
use sealcast::storage::{ObjectKey, ObjectPrefix};
use sealcast::uploads::metadata;

fn headers(name: &'static str, value: &str) -> Option<HeaderMap> {
    let value = HeaderValue::from_str(value).ok()?;
    let mut map = HeaderMap::new();
    map.insert(HeaderName::from_static(name), value);
    Some(map)
}

proptest! {
    #[test]
    fn metadata_round_trips(map in prop::collection::btree_map("[A-Za-z0-9_.-]{1,16}", "\\PC{0,40}", 0..6)) {
        let parsed = metadata::parse(&metadata::encode(&map)).unwrap();
        prop_assert_eq!(parsed, map);
    }

    #[test]
    fn metadata_parser_never_panics_and_keys_are_clean(header in "\\PC{0,200}") {
        if let Ok(map) = metadata::parse(&header) {
            for key in map.keys() {
                prop_assert!(!key.is_empty() && key.is_ascii());
                prop_assert!(!key.contains(' ') && !key.contains(','));
            }
        }
    }

    #[test]
    fn object_keys_never_leave_their_directory(key in "(\\PC|/|\\.|\\\\){0,60}") {
        if let Ok(k) = ObjectKey::new(key.clone()) {
            let joined = Path::new("/data/objects").join(k.as_str());
            prop_assert!(joined.starts_with("/data/objects"));
            prop_assert!(
                Path::new(k.as_str()).components().all(|c| matches!(c, Component::Normal(_))),
                "{}", key
            );
            prop_assert!(!key.contains('\\') && !key.chars().any(char::is_control));
        }
        // Prefixes are held to the same rules.
        if let Ok(p) = ObjectPrefix::new(key.clone()) {
            prop_assert!(Path::new(p.as_str()).components().all(|c| matches!(c, Component::Normal(_))), "{}", key);
        }
    }

    #[test]
    fn plain_keys_are_accepted(segments in prop::collection::vec("[a-z0-9_-]{1,10}(\\.[a-z0-9]{1,4})?", 1..5)) {
        let key = segments.join("/");
        let accepted = ObjectKey::new(key.clone()).unwrap();
        prop_assert_eq!(accepted.as_str(), key.as_str());
    }

    #[test]
    fn upload_offsets_are_plain_decimal(value in "\\PC{0,24}") {
        if let Some(map) = headers("upload-offset", &value) {
            let name = HeaderName::from_static("upload-offset");
            match u64_header(&map, &name) {
                Ok(Some(n)) => {
                    let written = n.to_string();
                    prop_assert_eq!(written.trim_start_matches('0'), value.trim_start_matches('0'));
                }
                Ok(None) => prop_assert!(false, "present header read as absent"),
                Err(_) => prop_assert!(value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) || value.parse::<u64>().is_err()),
            }
        }
    }

    #[test]
    fn upload_checksums_parse_or_refuse(value in "\\PC{0,60}", digest in prop::array::uniform20(any::<u8>())) {
        if let Some(map) = headers("upload-checksum", &value) {
            let _ = expected_sha1(&map);
        }
        let good = format!("sha1 {}", base64::engine::general_purpose::STANDARD.encode(digest));
        prop_assert_eq!(expected_sha1(&headers("upload-checksum", &good).unwrap()).unwrap(), Some(digest));
    }
}

/// A deployer's typo never panics: every value of every setting, on the
/// command line or in the TOML file, either loads or is refused with a
/// message that names the setting.
#[test]
fn configuration_values_load_or_are_refused() {
    use clap::Parser;
    use sealcast::cli::{Cli, Command};
    use sealcast::config::Config;
    let flags = [
        "--listen",
        "--roles",
        "--log-format",
        "--cors-origins",
        "--request-timeout-secs",
        "--database-url",
        "--storage",
        "--workers",
        "--job-timeout-secs",
        "--transcode-rungs",
        "--segment-seconds",
        "--rotate-every",
        "--access-token-ttl-secs",
        "--max-live-sessions",
        "--key-pacing-allowance-secs",
        "--playback-starts-per-minute",
        "--login-attempts-per-ip",
        "--external-issuer",
        "--external-algorithm",
        "--external-jwks-url",
        "--max-upload-bytes",
        "--creator-quota-bytes",
        "--upload-expiry-secs",
    ];
    let scratch = tempfile::tempdir().unwrap();
    let data = scratch.path().join("data");
    let toml = scratch.path().join("sealcast.toml");
    let load = |extra: &[&str]| {
        let mut argv = vec!["sealcast", "serve", "--data-dir", data.to_str().unwrap()];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv) {
            Ok(Cli {
                command: Command::Serve(args),
            }) => Config::load(&args).err().map(|e| e.to_string()),
            Ok(_) => unreachable!("serve parses as serve"),
            Err(err) => Some(err.to_string()),
        }
    };
    let mut runner = proptest::test_runner::TestRunner::default();
    runner
        .run(
            &(prop::sample::select(flags.to_vec()), "\\PC{0,40}"),
            |(flag, value)| {
                if let Some(message) = load(&[flag, &value]) {
                    prop_assert!(!message.is_empty());
                }
                Ok(())
            },
        )
        .unwrap();
    runner
        .run(&"(\\PC|\n|=|\\[|\\]|\"){0,120}", |text| {
            std::fs::write(&toml, &text).unwrap();
            if let Some(message) = load(&["--config", toml.to_str().unwrap()]) {
                prop_assert!(!message.is_empty());
            }
            Ok(())
        })
        .unwrap();
    // And the refusals are the ones a reader expects.
    let refused = load(&["--max-upload-bytes", "lots"]).unwrap();
    assert!(
        refused.contains("max-upload-bytes") || refused.contains("max_upload_bytes"),
        "{refused}"
    );
}
