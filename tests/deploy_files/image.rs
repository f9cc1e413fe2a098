//! The Dockerfile: built the README's way, run unprivileged, with the libraries it links.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use super::*;

/// The Dockerfile's stages as (instruction, arguments), continuations joined.
fn dockerfile_stages() -> Vec<Vec<(String, String)>> {
    let text = read(&deploy().join("Dockerfile"));
    let mut logical = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                logical.push(std::mem::take(&mut current));
            }
        }
    }
    let mut stages: Vec<Vec<(String, String)>> = Vec::new();
    for line in logical {
        let (op, args) = line.trim().split_once(char::is_whitespace).unwrap();
        let op = op.to_ascii_uppercase();
        let args = args.split_whitespace().collect::<Vec<_>>().join(" ");
        if op == "FROM" {
            stages.push(Vec::new());
        }
        if let Some(stage) = stages.last_mut() {
            stage.push((op, args));
        }
    }
    stages
}

fn args_of<'a>(stage: &'a [(String, String)], op: &str) -> Vec<&'a str> {
    stage
        .iter()
        .filter(|(o, _)| o == op)
        .map(|(_, a)| a.as_str())
        .collect()
}

#[test]
fn the_dockerfile_builds_the_readme_way_and_runs_unprivileged() {
    let stages = dockerfile_stages();
    assert_eq!(stages.len(), 2, "a build and a runtime stage");
    let (build, runtime) = (&stages[0], &stages[1]);
    assert!(args_of(build, "FROM")[0].contains("-bookworm AS build"));
    let runs = args_of(build, "RUN");
    let step = |what: &str| {
        runs.iter()
            .position(|r| r.contains(what))
            .unwrap_or_else(|| panic!("the build stage never runs `{what}`: {runs:?}"))
    };
    let cargo = "cargo build --release --bin sealcast";
    assert!(step("scripts/setup.sh") < step("make web") && step("make web") < step(cargo));
    // The same steps as the README's `make run`.
    let makefile = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("Makefile"));
    let run_recipe = makefile
        .split("\nrun:")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap();
    for line in ["scripts/setup.sh", "$(MAKE) web", cargo] {
        assert!(run_recipe.contains(line), "make run: {run_recipe}");
    }

    assert_eq!(
        args_of(runtime, "FROM"),
        ["docker.io/library/debian:bookworm-slim"]
    );
    let user = args_of(runtime, "USER");
    assert_eq!(user, ["10001:10001"]);
    assert!(args_of(runtime, "RUN")
        .iter()
        .any(|r| r.contains("useradd --system --uid 10001")));
    assert_eq!(args_of(runtime, "EXPOSE"), ["8080"]);
    assert_eq!(args_of(runtime, "VOLUME"), [r#"["/data"]"#]);
    assert!(stages.iter().all(|s| args_of(s, "HEALTHCHECK").is_empty()));
    let env: BTreeMap<&str, &str> = args_of(runtime, "ENV")
        .iter()
        .flat_map(|a| a.split(' '))
        .filter_map(|pair| pair.split_once('='))
        .collect();
    assert_eq!(env["SEALCAST_LISTEN"], "0.0.0.0:8080");
    assert_eq!(env["SEALCAST_DATA_DIR"], "/data");
    let copies = args_of(runtime, "COPY");
    assert!(copies.contains(
        &format!(
            "--from=build /src/player-demo/dist {}",
            env["SEALCAST_WEB_DIR"]
        )
        .as_str()
    ));
    assert!(copies.contains(&"--from=build /usr/local/bin/sealcast /usr/local/bin/sealcast"));
    assert_eq!(
        args_of(runtime, "ENTRYPOINT"),
        [r#"["/usr/local/bin/sealcast"]"#]
    );
    assert_eq!(args_of(runtime, "CMD"), [r#"["serve"]"#]);

    let ignore = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join(".dockerignore"));
    for kept_out in [
        "/target",
        "**/node_modules",
        "/deploy/secrets",
        "/deploy/.env",
    ] {
        assert!(
            ignore.lines().any(|l| l == kept_out),
            ".dockerignore lacks {kept_out}"
        );
    }
}

#[test]
fn the_runtime_image_installs_exactly_the_packages_of_the_libraries_the_binary_links() {
    let elf = Command::new("readelf")
        .args(["-d", env!("CARGO_BIN_EXE_sealcast")])
        .output()
        .expect("readelf (binutils) is installed wherever Rust links");
    assert!(elf.status.success());
    let sonames: Vec<String> = String::from_utf8(elf.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| {
            l.split_once('[')
                .and_then(|(_, r)| r.split_once(']'))
                .map(|(s, _)| s.to_string())
        })
        .collect();
    assert!(
        sonames.iter().any(|s| s.starts_with("libavcodec.so.")),
        "{sonames:?}"
    );
    let mut linked = BTreeSet::new();
    for soname in &sonames {
        let out = Command::new("dpkg")
            .args(["-S", &format!("*/{soname}")])
            .output()
            .unwrap();
        let owners = String::from_utf8(out.stdout).unwrap();
        let package = owners
            .lines()
            .find(|l| l.ends_with(&format!("/{soname}")))
            .and_then(|l| l.split(':').next())
            .unwrap_or_else(|| panic!("no Debian package ships {soname}: {owners}"));
        linked.insert(package.to_string());
    }
    // Part of every Debian image, debian:bookworm-slim included.
    for base in ["libc6", "libgcc-s1"] {
        linked.remove(base);
    }

    let stages = dockerfile_stages();
    let install = args_of(&stages[1], "RUN")
        .into_iter()
        .find(|r| r.contains("apt-get install"))
        .unwrap();
    let mut installed: BTreeSet<String> = install
        .split(" --no-install-recommends ")
        .nth(1)
        .unwrap()
        .split(" && ")
        .next()
        .unwrap()
        .split(' ')
        .map(String::from)
        .collect();
    assert!(installed.remove("ca-certificates"), "{installed:?}");
    assert_eq!(
        installed, linked,
        "the runtime stage's packages vs the binary's NEEDED libraries"
    );
}
