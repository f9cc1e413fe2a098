//! Configuration of `sealcast serve` (`src/config/`): arbitrary values for
//! any of its settings as flags and as `SEALCAST_*` variables (both read by
//! clap, as the binary does) over an arbitrary TOML file, through
//! `Config::load`.
//!
//! Asserts: nothing panics; a refusal is a `ConfigError` naming a setting, on
//! one line (the binary prints it and exits 2).
#![no_main]

use arbitrary::Arbitrary;
use clap::{CommandFactory, Parser};
use libfuzzer_sys::fuzz_target;
use sealcast::config::{Config, ServeArgs};
use std::path::PathBuf;
use std::sync::OnceLock;

/// `sealcast serve` as the binary parses it.
#[derive(Parser)]
struct Serve {
    #[command(flatten)]
    args: ServeArgs,
}

struct Setting {
    long: String,
    env: Option<String>,
}

struct Fixture {
    settings: Vec<Setting>,
    file: PathBuf,
    _dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let settings = Serve::command()
            .get_arguments()
            .filter_map(|arg| {
                Some(Setting {
                    long: arg.get_long()?.to_string(),
                    env: arg.get_env().map(|e| e.to_string_lossy().into_owned()),
                })
            })
            .filter(|s| s.long != "config")
            .collect();
        let dir = tempfile::tempdir().unwrap();
        Fixture {
            settings,
            file: dir.path().join("sealcast.toml"),
            _dir: dir,
        }
    })
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    file: Option<&'a str>,
    values: Vec<(u8, &'a str, bool)>,
}

fuzz_target!(|input: Input| {
    let fx = fixture();
    let mut flags = vec!["serve".to_string()];
    let mut env = Vec::new();
    for (i, value, as_env) in input.values.iter().take(16) {
        let setting = &fx.settings[usize::from(*i) % fx.settings.len()];
        match &setting.env {
            Some(name) if *as_env && !value.contains('\0') => env.push((name.clone(), *value)),
            _ => flags.push(format!("--{}={value}", setting.long)),
        }
    }
    if let Some(text) = input.file {
        std::fs::write(&fx.file, text).unwrap();
        flags.push(format!("--config={}", fx.file.display()));
    }
    for (name, value) in &env {
        std::env::set_var(name, value);
    }
    let parsed = Serve::try_parse_from(&flags);
    for (name, _) in &env {
        std::env::remove_var(name);
    }
    // clap's own refusals are clap's (exit 2 with its message).
    let Ok(serve) = parsed else {
        return;
    };
    if let Err(err) = Config::load(&serve.args) {
        let line = err.to_string();
        assert!(!err.setting.is_empty(), "{line}");
        assert!(!line.contains('\n'), "multi-line config error: {line:?}");
    }
});
