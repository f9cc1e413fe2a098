//! The deployment files in `deploy/`, checked as far as a machine without a
//! container engine can check them:
//! - every YAML file parses, and the Kubernetes objects and the compose
//!   services are the documented topology: a Deployment per role, probes on
//!   `/readyz` and `/healthz`, non-root and read-only, the master private key
//!   on the key server only, no secret values, no CORS wildcard;
//! - every flag and `SEALCAST_*` variable they hand sealcast is one the real
//!   binary's `serve --help` lists;
//! - the Dockerfile builds the README's way and its runtime stage installs
//!   exactly the packages of the libraries the binary links;
//! - the real programs accept what the scripts make: `make-secrets.sh`'s
//!   files start a key server (which derives the same `master.pub`), an edge
//!   and a worker, and `garage/init.sh` readies a real Garage whose bucket
//!   sealcast then reaches with the generated key.
//!
//! One module per concern under `tests/deploy_files/`; the helpers they share
//! (reading deploy/ and walking YAML) are here. Building the images and
//! running the containers is not tested (deploy/README.md says what was and
//! was not exercised).

mod common;
#[path = "deploy_files/compose.rs"]
mod compose;
#[path = "deploy_files/flags.rs"]
mod flags;
#[path = "deploy_files/image.rs"]
mod image;
#[path = "deploy_files/kubernetes.rs"]
mod kubernetes;
#[path = "deploy_files/nodes.rs"]
mod nodes;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

const SEALCAST_IMAGE: &str = "sealcast:local";
/// The compose services that run sealcast, with their role.
const COMPOSE_NODES: [(&str, &str); 4] = [
    ("keyserver", "keyserver"),
    ("edge-1", "edge"),
    ("edge-2", "edge"),
    ("worker", "worker"),
];

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every file under `deploy/`, sorted.
fn deploy_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&deploy(), &mut files);
    files.sort();
    files
}

fn is_yaml(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "yaml" || e == "yml")
}

fn yaml_docs(path: &Path) -> Vec<Yaml> {
    YamlLoader::load_from_str(&read(path))
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()))
}

fn compose() -> Yaml {
    yaml_docs(&deploy().join("compose.yaml")).remove(0)
}

/// The objects `kubectl apply -k deploy/k8s` sends (not the kustomization itself).
fn k8s_objects() -> Vec<Yaml> {
    deploy_files()
        .into_iter()
        .filter(|p| p.parent() == Some(&deploy().join("k8s")) && is_yaml(p))
        .filter(|p| p.file_name().unwrap() != "kustomization.yaml")
        .flat_map(|p| yaml_docs(&p))
        .collect()
}

/// The Deployments by role (their `app.kubernetes.io/component` label).
fn deployments() -> BTreeMap<String, Yaml> {
    k8s_objects()
        .into_iter()
        .filter(|o| o["kind"].as_str() == Some("Deployment"))
        .map(|d| {
            let role =
                text(&d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]);
            (role.to_string(), d)
        })
        .collect()
}

fn text(y: &Yaml) -> &str {
    y.as_str()
        .unwrap_or_else(|| panic!("expected a string, found {y:?}"))
}

fn list(y: &Yaml) -> &[Yaml] {
    y.as_vec().map(Vec::as_slice).unwrap_or(&[])
}

/// A command line as strings (YAML may type `1` as a number).
fn strings(y: &Yaml) -> Vec<String> {
    list(y)
        .iter()
        .map(|item| match item {
            Yaml::Integer(n) => n.to_string(),
            other => text(other).to_string(),
        })
        .collect()
}

/// The value after `flag` in a command line.
fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// Every string scalar of a document, keys included.
fn scalars(y: &Yaml, out: &mut Vec<String>) {
    match y {
        Yaml::String(s) => out.push(s.clone()),
        Yaml::Array(items) => items.iter().for_each(|i| scalars(i, out)),
        Yaml::Hash(map) => map.iter().for_each(|(k, v)| {
            scalars(k, out);
            scalars(v, out);
        }),
        _ => {}
    }
}

fn mentions(y: &Yaml, needle: &str) -> bool {
    let mut all = Vec::new();
    scalars(y, &mut all);
    all.iter().any(|s| s.contains(needle))
}
