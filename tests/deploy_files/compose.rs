//! The compose file and its load balancer, and CORS in every deploy file.

use std::collections::BTreeSet;
use std::path::Path;

use super::*;

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
