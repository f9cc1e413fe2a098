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
//! Building the images and running the containers is not tested here
//! (deploy/README.md says what was and was not exercised).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{eventually, TestServer};
use ed25519_dalek::pkcs8::DecodePrivateKey;
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

#[test]
fn every_yaml_file_parses_and_the_cluster_objects_are_the_documented_set() {
    let yaml_files: Vec<PathBuf> = deploy_files().into_iter().filter(|p| is_yaml(p)).collect();
    assert!(
        yaml_files.len() >= 7,
        "compose and the k8s files: {yaml_files:?}"
    );
    for path in &yaml_files {
        let docs = yaml_docs(path);
        assert!(!docs.is_empty(), "{} is empty", path.display());
        for doc in &docs {
            assert!(doc.as_hash().is_some(), "{}: {doc:?}", path.display());
            assert_ne!(
                doc["kind"].as_str(),
                Some("Secret"),
                "{}: secret values belong in no file of deploy/",
                path.display()
            );
        }
    }

    let objects = k8s_objects();
    let mut names = BTreeSet::new();
    for o in &objects {
        assert!(o["apiVersion"].as_str().is_some(), "{o:?}");
        assert!(
            o["metadata"]["namespace"].is_badvalue(),
            "the manifests name no namespace: {o:?}"
        );
        names.insert(format!(
            "{}/{}",
            text(&o["kind"]),
            text(&o["metadata"]["name"])
        ));
    }
    for expected in [
        "ConfigMap/sealcast-config",
        "Deployment/sealcast-edge",
        "Deployment/sealcast-keyserver",
        "Deployment/sealcast-worker",
        "Service/sealcast-edge",
        "Service/sealcast-keyserver",
        "PodDisruptionBudget/sealcast-edge",
    ] {
        assert!(
            names.contains(expected),
            "{expected} missing from {names:?}"
        );
    }

    let deployments = deployments();
    assert_eq!(
        deployments.keys().map(String::as_str).collect::<Vec<_>>(),
        ["edge", "keyserver", "worker"]
    );
    assert_eq!(deployments["edge"]["spec"]["replicas"].as_i64(), Some(2));
    assert_eq!(deployments["worker"]["spec"]["replicas"].as_i64(), Some(2));
    let keyservers = deployments["keyserver"]["spec"]["replicas"].as_i64();
    assert!(matches!(keyservers, Some(1 | 2)), "{keyservers:?}");

    // Services and the edge's disruption budget select the pods they mean.
    let pod_labels =
        |role: &str| deployments[role]["spec"]["template"]["metadata"]["labels"].clone();
    for o in &objects {
        let kind = text(&o["kind"]);
        let selector = match kind {
            "Service" => &o["spec"]["selector"],
            "PodDisruptionBudget" => &o["spec"]["selector"]["matchLabels"],
            _ => continue,
        };
        let role = text(&selector["app.kubernetes.io/component"]);
        let labels = pod_labels(role);
        for (k, v) in selector.as_hash().unwrap() {
            assert_eq!(&labels[text(k)], v, "{kind} {:?}", o["metadata"]["name"]);
        }
    }
    let edge_pdb = objects
        .iter()
        .find(|o| {
            o["kind"].as_str() == Some("PodDisruptionBudget")
                && o["metadata"]["name"].as_str() == Some("sealcast-edge")
        })
        .unwrap();
    assert_eq!(edge_pdb["spec"]["minAvailable"].as_i64(), Some(1));

    // The kustomization applies every manifest beside it.
    let kustomization = yaml_docs(&deploy().join("k8s/kustomization.yaml")).remove(0);
    let listed: BTreeSet<String> = strings(&kustomization["resources"]).into_iter().collect();
    let present: BTreeSet<String> = deploy_files()
        .into_iter()
        .filter(|p| p.parent() == Some(&deploy().join("k8s")) && is_yaml(p))
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .filter(|n| n != "kustomization.yaml")
        .collect();
    assert_eq!(listed, present);
}

#[test]
fn every_pod_probes_health_runs_unprivileged_and_reads_its_secrets_from_private_files() {
    for (role, deployment) in deployments() {
        let pod = &deployment["spec"]["template"]["spec"];
        let context = &pod["securityContext"];
        assert_eq!(context["runAsNonRoot"].as_bool(), Some(true), "{role}");
        assert_eq!(context["runAsUser"].as_i64(), Some(10001), "{role}");
        assert_eq!(
            context["seccompProfile"]["type"].as_str(),
            Some("RuntimeDefault"),
            "{role}"
        );
        assert_eq!(pod["automountServiceAccountToken"].as_bool(), Some(false));
        let init = list(&pod["initContainers"]);
        for c in list(&pod["containers"]).iter().chain(init) {
            let name = format!("{role}/{}", text(&c["name"]));
            let sc = &c["securityContext"];
            assert_eq!(sc["runAsNonRoot"].as_bool(), Some(true), "{name}");
            assert_eq!(
                sc["allowPrivilegeEscalation"].as_bool(),
                Some(false),
                "{name}"
            );
            assert_eq!(sc["readOnlyRootFilesystem"].as_bool(), Some(true), "{name}");
            assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"], "{name}");
            for bound in ["requests", "limits"] {
                for resource in ["cpu", "memory"] {
                    assert!(
                        !c["resources"][bound][resource].is_badvalue(),
                        "{name}: no {bound}.{resource}"
                    );
                }
            }
        }
        for volume in list(&pod["volumes"]) {
            for source in ["secret", "projected"] {
                if !volume[source].is_badvalue() {
                    // 256 is 0o400: written in decimal, YAML 1.1 and 1.2 agree.
                    assert_eq!(
                        volume[source]["defaultMode"].as_i64(),
                        Some(256),
                        "{volume:?}"
                    );
                }
            }
        }

        let main: Vec<&Yaml> = list(&pod["containers"])
            .iter()
            .filter(|c| c["name"].as_str() == Some("sealcast"))
            .collect();
        assert_eq!(main.len(), 1, "{role}: one sealcast container");
        let main = main[0];
        assert_eq!(text(&main["readinessProbe"]["httpGet"]["path"]), "/readyz");
        assert_eq!(text(&main["livenessProbe"]["httpGet"]["path"]), "/healthz");
        let http_port = list(&main["ports"])
            .iter()
            .find(|p| p["name"].as_str() == Some("http"))
            .unwrap_or_else(|| panic!("{role}: a port named http"));
        assert_eq!(http_port["containerPort"].as_i64(), Some(8080));
        let args = strings(&main["args"]);
        assert_eq!(args[0], "serve", "{role}");
        assert_eq!(flag_value(&args, "--roles"), Some(role.as_str()));

        // Every *_FILE names a file in a mounted volume. The files sealcast
        // checks for mode 0600 are copies an init container made with 0400
        // (the kubelet adds group read to Secret volumes under fsGroup).
        let mounts: Vec<(String, String)> = list(&main["volumeMounts"])
            .iter()
            .map(|m| {
                (
                    text(&m["mountPath"]).to_string(),
                    text(&m["name"]).to_string(),
                )
            })
            .collect();
        for var in list(&main["env"]) {
            let name = text(&var["name"]);
            if !name.ends_with("_FILE") {
                continue;
            }
            let path = text(&var["value"]);
            let (dir, file) = path.rsplit_once('/').unwrap();
            let (_, volume) = mounts
                .iter()
                .find(|(mount, _)| mount == dir)
                .unwrap_or_else(|| panic!("{role}: {name}={path} is in no mounted volume"));
            let volume = list(&pod["volumes"])
                .iter()
                .find(|v| v["name"].as_str() == Some(volume.as_str()))
                .unwrap();
            let checked = [
                "SEALCAST_URL_SIGNING_SECRET_FILE",
                "SEALCAST_SIGNING_KEY_FILE",
                "SEALCAST_MASTER_KEY_FILE",
            ];
            if checked.contains(&name) {
                assert_eq!(
                    volume["emptyDir"]["medium"].as_str(),
                    Some("Memory"),
                    "{name}"
                );
                let copier = init
                    .iter()
                    .find(|c| {
                        strings(&c["command"])
                            .last()
                            .is_some_and(|to| *to == format!("{dir}/"))
                    })
                    .unwrap_or_else(|| panic!("{role}: no init container fills {dir}"));
                let command = strings(&copier["command"]);
                assert_eq!(command[..3], ["install", "-m", "0400"], "{role}");
                assert!(
                    command.contains(&format!("/secrets-in/{file}")),
                    "{role}: {command:?}"
                );
            }
        }

        // The custody master private key reaches the key server only.
        let has_master = mentions(&deployment, "SEALCAST_MASTER_KEY_FILE")
            || mentions(&deployment, "sealcast-master-key");
        assert_eq!(has_master, role == "keyserver", "{role}");
        if role != "keyserver" {
            assert!(
                mentions(&deployment, "SEALCAST_MASTER_PUBLIC_KEY_FILE"),
                "{role}"
            );
        }
    }
    for o in k8s_objects() {
        if mentions(&o, "sealcast-master-key") {
            assert_eq!(text(&o["metadata"]["name"]), "sealcast-keyserver", "{o:?}");
        }
    }
}

#[test]
fn compose_runs_the_documented_topology_and_gives_the_master_key_to_the_key_server_only() {
    let compose = compose();
    let services = &compose["services"];
    let names: BTreeSet<&str> = services.as_hash().unwrap().keys().map(text).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "edge-1",
            "edge-2",
            "garage",
            "garage-init",
            "keyserver",
            "lb",
            "postgres",
            "worker"
        ])
    );
    assert!(text(&services["postgres"]["image"]).contains("postgres:15"));
    assert!(text(&services["garage"]["image"]).ends_with("dxflrs/garage:v2.5.0"));
    assert!(
        read(&deploy().join("garage/Dockerfile")).contains("dxflrs/garage:v2.5.0"),
        "garage-init's CLI is the server's release"
    );
    assert_eq!(
        compose["networks"]["backend"]["internal"].as_bool(),
        Some(true)
    );

    let lb_ip = text(&services["lb"]["networks"]["front"]["ipv4_address"]);
    let edge_ips: Vec<&str> = ["edge-1", "edge-2"]
        .map(|e| text(&services[e]["networks"]["backend"]["ipv4_address"]))
        .to_vec();
    let garage_toml = read(&deploy().join("garage/garage.toml"));
    let toml_value = |key: &str| {
        garage_toml
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key} = ")))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_else(|| panic!("garage.toml has no {key}"))
    };
    let s3_port = toml_value("api_bind_addr")
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    let bucket = text(&services["garage-init"]["environment"]["S3_BUCKET"]);
    let secret_files = &compose["secrets"];

    for (name, role) in COMPOSE_NODES {
        let s = &services[name];
        assert_eq!(text(&s["image"]), SEALCAST_IMAGE, "{name}");
        let args = strings(&s["command"]);
        assert_eq!(args[0], "serve", "{name}");
        assert_eq!(flag_value(&args, "--roles"), Some(role), "{name}");
        assert_eq!(s["read_only"].as_bool(), Some(true), "{name}");
        assert_eq!(strings(&s["cap_drop"]), ["ALL"], "{name}");
        let storage = flag_value(&args, "--storage").unwrap();
        assert!(
            storage.starts_with(&format!("s3://{bucket}/")),
            "{name}: {storage}"
        );
        assert_eq!(
            flag_value(&args, "--s3-endpoint"),
            Some(format!("http://garage:{s3_port}").as_str())
        );
        assert_eq!(
            flag_value(&args, "--s3-region"),
            Some(toml_value("s3_region").as_str())
        );
        assert_eq!(
            text(&s["depends_on"]["garage-init"]["condition"]),
            "service_completed_successfully"
        );

        let env = s["environment"].as_hash().unwrap();
        let mounted = strings(&s["secrets"]);
        assert!(text(&s["environment"]["SEALCAST_DATABASE_URL"]).contains("@postgres:5432/"));
        for (key, value) in env {
            if !text(key).ends_with("_FILE") {
                continue;
            }
            let secret = text(value)
                .strip_prefix("/run/secrets/")
                .unwrap_or_else(|| panic!("{name}: {key:?} is not a compose secret"));
            assert!(
                mounted.iter().any(|m| m == secret),
                "{name}: {secret} is not mounted"
            );
            assert!(text(&secret_files[secret]["file"]).starts_with("./secrets/"));
        }
        assert!(!s["environment"]["AWS_SHARED_CREDENTIALS_FILE"].is_badvalue());
        let is_keyserver = name == "keyserver";
        assert_eq!(
            mounted.iter().any(|m| m == "master-key"),
            is_keyserver,
            "{name}"
        );
        assert_eq!(
            !s["environment"]["SEALCAST_MASTER_KEY_FILE"].is_badvalue(),
            is_keyserver,
            "{name}"
        );
        // The key server writes master.pub itself; the others read it.
        assert_eq!(
            s["environment"]["SEALCAST_MASTER_PUBLIC_KEY_FILE"].is_badvalue(),
            is_keyserver,
            "{name}"
        );
        match role {
            "keyserver" => {
                assert_eq!(
                    flag_value(&args, "--trusted-proxies"),
                    Some(edge_ips.join(",").as_str())
                )
            }
            "edge" => {
                assert_eq!(
                    flag_value(&args, "--keyserver-url"),
                    Some("http://keyserver:8080")
                );
                assert_eq!(flag_value(&args, "--trusted-proxies"), Some(lb_ip));
            }
            _ => assert!(
                !mounted
                    .iter()
                    .any(|m| m == "url-signing-key" || m == "signing-key"),
                "a worker signs nothing"
            ),
        }
    }

    assert_eq!(strings(&services["lb"]["ports"]), ["8080:8080"]);
    let caddyfile = read(&deploy().join("caddy/Caddyfile"));
    assert!(
        caddyfile.contains("reverse_proxy edge-1:8080 edge-2:8080 {"),
        "{caddyfile}"
    );
    assert!(caddyfile.contains("health_uri /readyz"));
}

/// The configuration lines of a file, comments dropped.
fn config_lines(path: &Path) -> Vec<String> {
    read(path)
        .lines()
        .map(|l| l.split(" #").next().unwrap().to_string())
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect()
}

#[test]
fn no_deploy_file_allows_every_origin() {
    let mut seen_config = 0;
    for path in deploy_files() {
        if path.extension().is_some_and(|e| e == "md") {
            continue;
        }
        seen_config += 1;
        for line in config_lines(&path) {
            let lower = line.to_ascii_lowercase();
            if lower.contains("cors") || lower.contains("access-control-allow-origin") {
                assert!(!line.contains('*'), "{}: {line}", path.display());
            }
        }
    }
    assert!(seen_config >= 10);
    // The load balancer leaves headers to sealcast.
    let caddy = config_lines(&deploy().join("caddy/Caddyfile")).join("\n");
    assert!(!caddy.contains("header"), "{caddy}");
}

/// Whether `help` lists `flag` as a whole word (`--roles`, not `--roles-x`).
fn lists_flag(help: &str, flag: &str) -> bool {
    help.match_indices(flag).any(|(at, _)| {
        let next = help[at + flag.len()..].chars().next();
        !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

#[test]
fn every_flag_and_variable_given_to_sealcast_is_one_serve_accepts() {
    let out = common::sealcast_command()
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // clap may wrap long lines; a wrap only ever replaces a space.
    let help = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");

    let mut command_lines: Vec<(String, Vec<String>)> = Vec::new();
    let compose = compose();
    for (name, _) in COMPOSE_NODES {
        command_lines.push((
            format!("compose {name}"),
            strings(&compose["services"][name]["command"]),
        ));
    }
    for (role, d) in deployments() {
        for c in list(&d["spec"]["template"]["spec"]["containers"]) {
            command_lines.push((format!("k8s {role}"), strings(&c["args"])));
        }
    }
    let mut flags = BTreeSet::new();
    for (origin, args) in &command_lines {
        assert_eq!(
            args.first().map(String::as_str),
            Some("serve"),
            "{origin}: {args:?}"
        );
        for arg in args.iter().filter(|a| a.starts_with("--")) {
            let flag = arg.split('=').next().unwrap().to_string();
            assert!(
                lists_flag(&help, &flag),
                "{origin}: `sealcast serve` has no {flag}"
            );
            flags.insert(flag);
        }
    }
    for needed in [
        "--roles",
        "--keyserver-url",
        "--trusted-proxies",
        "--storage",
        "--s3-endpoint",
    ] {
        assert!(flags.contains(needed), "{needed} is used: {flags:?}");
    }

    // Every SEALCAST_ name anywhere in deploy/, docs and scripts included.
    let mut vars = BTreeSet::new();
    for path in deploy_files() {
        let text = read(&path);
        for (at, _) in text.match_indices("SEALCAST_") {
            let name: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            // `SEALCAST_*` in prose names the family, not a variable.
            if !name.ends_with('_') {
                vars.insert((name, path.clone()));
            }
        }
    }
    for (var, path) in &vars {
        assert!(
            help.contains(&format!("[env: {var}=")),
            "{}: `sealcast serve` reads no {var}",
            path.display()
        );
    }
    let names: BTreeSet<&str> = vars.iter().map(|(v, _)| v.as_str()).collect();
    for needed in [
        "SEALCAST_URL_SIGNING_SECRET_FILE",
        "SEALCAST_SIGNING_KEY_FILE",
        "SEALCAST_MASTER_KEY_FILE",
        "SEALCAST_MASTER_PUBLIC_KEY_FILE",
        "SEALCAST_DATABASE_URL",
        "SEALCAST_LISTEN",
        "SEALCAST_WEB_DIR",
    ] {
        assert!(names.contains(needed), "{needed} is used: {names:?}");
    }
}

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

/// Runs deploy/make-secrets.sh into `out`.
fn make_secrets(out: &Path) {
    let output = Command::new("bash")
        .arg(deploy().join("make-secrets.sh"))
        .arg(out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "make-secrets.sh: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn mode_and_owner(path: &Path) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).unwrap();
    (meta.mode() & 0o777, meta.uid())
}

async fn ready(server: &TestServer) {
    let url = server.url("/readyz");
    eventually(
        Duration::from_secs(30),
        &format!("GET {url} answers 200"),
        || {
            let url = url.clone();
            async move {
                let status = reqwest::get(&url).await.ok()?.status();
                (status == 200).then_some(())
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn make_secrets_writes_what_sealcast_accepts_and_the_master_pub_the_key_server_derives() {
    let out = tempfile::tempdir().unwrap();
    make_secrets(out.path());
    let secrets = out.path().join("secrets");
    let as_root = rustix::process::geteuid().is_root();
    assert_eq!(mode_and_owner(&secrets).0, 0o700);
    assert_eq!(mode_and_owner(&out.path().join(".env")).0, 0o600);
    for (name, mode, read_by_sealcast) in [
        ("url-signing.key", 0o600, true),
        ("signing.pem", 0o600, true),
        ("master.key", 0o600, true),
        ("master.pub", 0o644, true),
        ("s3-credentials", 0o600, true),
        ("garage-rpc.secret", 0o600, false),
    ] {
        let (actual, uid) = mode_and_owner(&secrets.join(name));
        assert_eq!(actual, mode, "{name}");
        if as_root && read_by_sealcast {
            assert_eq!(uid, 10001, "{name} belongs to the containers' user");
        }
    }
    let credentials = read(&secrets.join("s3-credentials"));
    let key_id = credentials
        .lines()
        .find_map(|l| l.strip_prefix("aws_access_key_id = "))
        .unwrap();
    assert!(key_id.len() == 26 && key_id.starts_with("GK"), "{key_id}");
    assert_eq!(read(&secrets.join("garage-rpc.secret")).trim().len(), 64);

    // A second run keeps every file as it was.
    let snapshot = || {
        std::fs::read_dir(&secrets)
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                let bytes = std::fs::read(&p).unwrap();
                (p, bytes)
            })
            .collect::<BTreeMap<_, _>>()
    };
    let before = snapshot();
    make_secrets(out.path());
    assert_eq!(before, snapshot());

    let file = |name: &str| secrets.join(name).display().to_string();
    let keyserver = TestServer::builder()
        .roles("keyserver")
        .env("SEALCAST_URL_SIGNING_SECRET_FILE", file("url-signing.key"))
        .env("SEALCAST_SIGNING_KEY_FILE", file("signing.pem"))
        .env("SEALCAST_MASTER_KEY_FILE", file("master.key"))
        .start();
    ready(&keyserver).await;
    assert_eq!(
        read(&keyserver.data_path().join("secrets/master.pub")),
        read(&secrets.join("master.pub")),
        "openssl's X25519 public key is the one the key server derives"
    );

    let edge = TestServer::builder()
        .roles("edge")
        .env("SEALCAST_URL_SIGNING_SECRET_FILE", file("url-signing.key"))
        .env("SEALCAST_SIGNING_KEY_FILE", file("signing.pem"))
        .env("SEALCAST_MASTER_PUBLIC_KEY_FILE", file("master.pub"))
        .start();
    ready(&edge).await;
    let jwks: serde_json::Value = reqwest::get(edge.url("/.well-known/jwks.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pem = read(&secrets.join("signing.pem"));
    let key = ed25519_dalek::SigningKey::from_pkcs8_pem(&pem).unwrap();
    let public = URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes());
    let published: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["x"].as_str().unwrap())
        .collect();
    assert_eq!(
        published,
        [public.as_str()],
        "the edge signs with make-secrets' key"
    );

    let worker = TestServer::builder()
        .roles("worker")
        .env("SEALCAST_MASTER_PUBLIC_KEY_FILE", file("master.pub"))
        .start();
    ready(&worker).await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Garage server on deploy/garage/garage.toml, with only the container
/// paths and addresses moved to a temporary dir and loopback ports.
struct DeployGarage {
    child: Child,
    dir: tempfile::TempDir,
    endpoint: String,
}

impl DeployGarage {
    fn start(rpc_secret: &Path) -> DeployGarage {
        let dir = tempfile::tempdir().unwrap();
        let (s3, rpc) = (free_port(), free_port());
        let root = dir.path().display().to_string();
        let moved = [
            ("metadata_dir", format!("{root}/meta")),
            ("data_dir", format!("{root}/data")),
            ("rpc_bind_addr", format!("127.0.0.1:{rpc}")),
            ("rpc_public_addr", format!("127.0.0.1:{rpc}")),
            ("api_bind_addr", format!("127.0.0.1:{s3}")),
        ];
        let mut config = String::new();
        let mut replaced = BTreeSet::new();
        for line in read(&deploy().join("garage/garage.toml")).lines() {
            match moved
                .iter()
                .find(|(key, _)| line.starts_with(&format!("{key} = ")))
            {
                Some((key, value)) => {
                    assert!(replaced.insert(*key), "{key} twice in garage.toml");
                    config.push_str(&format!("{key} = \"{value}\"\n"));
                }
                None => config.push_str(&format!("{line}\n")),
            }
        }
        assert_eq!(
            replaced.len(),
            moved.len(),
            "garage.toml lacks one of {moved:?}"
        );
        std::fs::write(dir.path().join("garage.toml"), config).unwrap();
        // init.sh calls `garage`: the kit's binary under that name, first on PATH.
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        std::os::unix::fs::symlink(
            common::garage::garage_binary(),
            dir.path().join("bin/garage"),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("garage.log")).unwrap();
        let child = Command::new(dir.path().join("bin/garage"))
            .arg("server")
            .env("GARAGE_CONFIG_FILE", dir.path().join("garage.toml"))
            .env("GARAGE_RPC_SECRET_FILE", rpc_secret)
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        DeployGarage {
            child,
            dir,
            endpoint: format!("http://127.0.0.1:{s3}"),
        }
    }

    /// Runs deploy/garage/init.sh as compose's garage-init service does.
    fn init(&self, rpc_secret: &Path, credentials: &Path, bucket: &str) -> String {
        let path = format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = Command::new("sh")
            .arg(deploy().join("garage/init.sh"))
            .env("PATH", path)
            .env("GARAGE_CONFIG_FILE", self.dir.path().join("garage.toml"))
            .env("GARAGE_RPC_SECRET_FILE", rpc_secret)
            .env("S3_CREDENTIALS_FILE", credentials)
            .env("S3_BUCKET", bucket)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "garage/init.sh failed: {said}\ngarage log:\n{}",
            std::fs::read_to_string(self.dir.path().join("garage.log")).unwrap_or_default()
        );
        said
    }
}

impl Drop for DeployGarage {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garage_init_readies_the_bucket_sealcast_reaches_with_the_generated_credentials() {
    let out = tempfile::tempdir().unwrap();
    make_secrets(out.path());
    let secrets = out.path().join("secrets");
    let (rpc_secret, credentials) = (
        secrets.join("garage-rpc.secret"),
        secrets.join("s3-credentials"),
    );
    let compose = compose();
    let bucket = text(&compose["services"]["garage-init"]["environment"]["S3_BUCKET"]);
    let garage = DeployGarage::start(&rpc_secret);
    let first = garage.init(&rpc_secret, &credentials, bucket);
    assert!(
        first.contains("layout applied") && first.contains("imported"),
        "{first}"
    );
    // Compose runs it on every `up`: the second time everything is already there.
    let second = garage.init(&rpc_secret, &credentials, bucket);
    assert!(
        !second.contains("layout applied") && second.contains("exists"),
        "{second}"
    );

    // The key server's own storage flags, its endpoint moved to loopback.
    let args = strings(&compose["services"]["keyserver"]["command"]);
    let node = |credentials: &Path| {
        TestServer::builder()
            .roles("keyserver")
            .flag("--storage", flag_value(&args, "--storage").unwrap())
            .flag("--s3-region", flag_value(&args, "--s3-region").unwrap())
            .flag("--s3-endpoint", &garage.endpoint)
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                credentials.display().to_string(),
            )
            .start()
    };
    let server = node(&credentials);
    ready(&server).await;

    // /readyz does ask the bucket: a key Garage never saw is not ready.
    let stranger = out.path().join("stranger-credentials");
    std::fs::write(
        &stranger,
        format!(
            "[default]\naws_access_key_id = GK{}\naws_secret_access_key = {}\n",
            "0".repeat(24),
            "0".repeat(64)
        ),
    )
    .unwrap();
    let refused = node(&stranger);
    let status = reqwest::get(refused.url("/readyz")).await.unwrap().status();
    assert_eq!(status, 503);
}
