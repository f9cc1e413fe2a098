//! The Kubernetes manifests: the objects, and what every pod runs as and reads.

use std::collections::BTreeSet;
use std::path::PathBuf;

use yaml_rust2::Yaml;

use super::*;

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
