//! What the deploy files hand sealcast is what `sealcast serve` accepts.

use std::collections::BTreeSet;

use super::*;

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
