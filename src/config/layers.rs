//! The stack of layers, lowest first: defaults < TOML file < flags and variables.
//!
//! figment merges them key by key. A layer only carries the settings it
//! sets: an unset (`None`) field would otherwise hide the layers below it.
//! Flags and variables arrive already typed by clap, and defaults are typed
//! by construction, so a value of the wrong type can only come from the file.
//!
//! clap, not figment, reads the `SEALCAST_*` variables: `--help` then lists
//! each beside its flag, and a variable parses exactly as its flag does
//! (lists split at commas, `true`/`false`).

use std::path::{Path, PathBuf};

use clap::Args;
use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Value};
use figment::{Figment, Provider};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{ConfigError, ServeArgs};

/// Flags that are about this process, not settings a file may hold.
const NOT_FILE_SETTINGS: [&str; 2] = ["config", "demo"];

pub(super) struct Layers {
    figment: Figment,
    file: Option<PathBuf>,
}

impl Layers {
    pub(super) fn stack(args: &ServeArgs) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(set_values(&ServeArgs::defaults())?));
        if let Some(path) = &args.config {
            figment = figment.merge(file_layer(path)?);
        }
        figment = figment.merge(Serialized::globals(set_values(args)?));
        Ok(Self {
            figment,
            file: args.config.clone(),
        })
    }

    /// The merged settings of one concern (its struct names the keys it takes).
    pub(super) fn extract<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        self.figment
            .extract()
            .map_err(|e| named(e, self.file.as_deref()))
    }

    /// The merged value of one top-level setting that has a default.
    pub(super) fn value<T: DeserializeOwned>(&self, key: &str) -> Result<T, ConfigError> {
        self.figment
            .extract_inner(key)
            .map_err(|e| named(e, self.file.as_deref()))
    }
}

/// A figment error as the one line that names the setting (its first key);
/// a mistyped value comes from the file, if there is one.
fn named(err: figment::Error, file: Option<&Path>) -> ConfigError {
    let setting = err.path.first().cloned().unwrap_or_else(|| "config".into());
    let reason = match file {
        Some(path) => format!("{} (in {})", err.kind, path.display()),
        None => err.kind.to_string(),
    };
    ConfigError::new(setting, reason)
}

/// The fields of a layer that are set.
fn set_values(layer: &impl Serialize) -> Result<Dict, ConfigError> {
    let value = Value::serialize(layer).map_err(|e| named(e, None))?;
    let Value::Dict(_, mut dict) = value else {
        unreachable!("a struct serializes to a dictionary")
    };
    dict.retain(|_, value| !matches!(value, Value::Empty(..)));
    Ok(dict)
}

/// The TOML file, refused whole when it cannot be read or parsed, or when it
/// holds a key that is not a setting (a typo would otherwise be ignored).
fn file_layer(path: &Path) -> Result<impl Provider, ConfigError> {
    let in_file =
        |reason: String| ConfigError::new("config", format!("{}: {reason}", path.display()));
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new("config", format!("cannot read {}: {e}", path.display())))?;
    let layer = Toml::string(&text);
    // toml's message names the offending line; keep it on one line.
    let data = layer
        .data()
        .map_err(|e| in_file(e.kind.to_string().replace('\n', " ").trim().to_string()))?;
    let serve = ServeArgs::augment_args(clap::Command::new("serve"));
    let is_setting = |key: &str| {
        !NOT_FILE_SETTINGS.contains(&key) && serve.get_arguments().any(|arg| arg.get_id() == key)
    };
    if let Some(key) = data
        .values()
        .flat_map(Dict::keys)
        .find(|key| !is_setting(key.as_str()))
    {
        return Err(in_file(format!("unknown setting `{key}`")));
    }
    Ok(layer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sealcast.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        for text in [
            "lisen = \"x\"",
            "demo = true",
            "config = \"x\"",
            "[jobs]\nworkers = 2",
        ] {
            let (_dir, path) = file(text);
            let err = file_layer(&path).err().expect(text);
            assert_eq!(err.setting, "config", "{err}");
        }
        let (_dir, path) = file("listen = \"127.0.0.1:1\"\nworkers = 2\n");
        assert!(file_layer(&path).is_ok());
    }

    #[test]
    fn unreadable_or_malformed_files_are_refused_on_one_line() {
        let (_dir, path) = file("listen = \n[[");
        let err = file_layer(&path).err().unwrap();
        assert_eq!(err.setting, "config");
        assert!(!err.to_string().contains('\n'), "{err}");
        let err = file_layer(Path::new("/nonexistent/sealcast.toml"))
            .err()
            .unwrap();
        assert!(err.reason.starts_with("cannot read"), "{err}");
    }

    #[test]
    fn unset_fields_do_not_hide_lower_layers() {
        let dict = set_values(&ServeArgs {
            data_dir: Some("/d".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(dict.keys().collect::<Vec<_>>(), ["data_dir"]);
    }
}
