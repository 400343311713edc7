//! `corral export kubernetes` of replicated processes (issue 17): `replicas: N`
//! becomes one Deployment with `replicas: N` (one Indexed Job of N for a
//! one-shot, where each pod gets its `PC_REPLICA_NUM`), not N workloads; the
//! manifests validate (`kubernetes-validate`, PyPI) and match a golden file
//! (`CORRAL_BLESS=1` rewrites it after a deliberate change).

use std::path::PathBuf;
use std::process::Command;

const CORRAL: &str = env!("CARGO_BIN_EXE_corral");

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/export/replicas.yaml")
}

fn golden() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/export/golden/replicas.kubernetes.yaml")
}

/// The export, its warnings, and the documents as JSON values.
fn export(extra: &[&str]) -> (String, String, Vec<serde_json::Value>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut args = vec!["export", "kubernetes", "-f", fixture().to_str().unwrap().to_string().leak(), "-o", out.to_str().unwrap().to_string().leak()];
    args.extend_from_slice(extra);
    let o = Command::new(CORRAL).args(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{stderr}");
    let text = std::fs::read_to_string(out.join("kubernetes.yaml")).unwrap();
    // Documents through PyYAML (a real YAML reader), as JSON.
    let py = "import sys, yaml, json; print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d]))";
    let o = Command::new("python3").args(["-c", py]).arg(out.join("kubernetes.yaml")).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let docs: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    (text, stderr, docs, dir)
}

fn named<'a>(docs: &'a [serde_json::Value], kind: &str, name: &str) -> Option<&'a serde_json::Value> {
    docs.iter().find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
}

#[test]
fn a_replicated_process_is_one_workload_of_n() {
    let (text, stderr, docs, dir) = export(&["--image", "registry.example/farm:1", "--process-image", "web=registry.example/web:2"]);
    // One Deployment of 3, not three of one.
    let web = named(&docs, "Deployment", "farm-web").expect("a Deployment farm-web");
    assert_eq!(web["spec"]["replicas"], 3);
    assert_eq!(web["spec"]["template"]["spec"]["containers"][0]["image"], "registry.example/web:2", "--process-image takes the name as written");
    for n in 0..3 {
        assert!(!text.contains(&format!("farm-web-{n}")), "no per-replica object:\n{text}");
    }
    assert_eq!(docs.iter().filter(|d| d["kind"] == "Deployment").count(), 3, "web, shard, client");
    // Its Service routes to any ready replica.
    assert!(named(&docs, "Service", "farm-web").is_some());
    // A one-shot: an Indexed Job of 2, each pod with its PC_REPLICA_NUM.
    let seed = named(&docs, "Job", "farm-seed").expect("a Job farm-seed");
    assert_eq!(seed["spec"]["completions"], 2);
    assert_eq!(seed["spec"]["parallelism"], 2);
    assert_eq!(seed["spec"]["completionMode"], "Indexed");
    let env = &seed["spec"]["template"]["spec"]["containers"][0]["env"][0];
    assert_eq!(env["name"], "PC_REPLICA_NUM");
    assert_eq!(env["valueFrom"]["fieldRef"]["fieldPath"], "metadata.annotations['batch.kubernetes.io/job-completion-index']");
    // PC_REPLICA_NUM is not fixed in a replicated workload's ConfigMap (it would be
    // replica 0's for every pod); a process of one keeps its 0, as process-compose sets it.
    for name in ["farm-seed-env", "farm-web-env", "farm-shard-env"] {
        let d = named(&docs, "ConfigMap", name).unwrap();
        assert!(d["data"].get("PC_REPLICA_NUM").is_none(), "{d}");
        assert!(d["data"].get("PC_PROC_NAME").is_some(), "{d}");
    }
    assert_eq!(named(&docs, "ConfigMap", "farm-client-env").unwrap()["data"]["PC_REPLICA_NUM"], "0");
    // Dependencies on a replicated process: one init container for the workload.
    let inits = named(&docs, "Deployment", "farm-client").unwrap()["spec"]["template"]["spec"]["initContainers"].as_array().unwrap().clone();
    let names: Vec<&str> = inits.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["wait-shard", "wait-web"]);
    let web_inits = web["spec"]["template"]["spec"]["initContainers"].as_array().unwrap();
    assert_eq!(web_inits.len(), 1);
    assert!(web_inits[0]["args"].as_array().unwrap().iter().any(|a| a == "job/farm-seed"), "{web_inits:?}");
    // What cannot be expressed is named.
    assert!(stderr.contains("warning: export kubernetes: processes.web.replicas: one Deployment of interchangeable pods: PC_REPLICA_NUM is not set per pod"), "{stderr}");
    assert!(stderr.contains("processes.shard.replicas: the replicas differ"), "{stderr}");
    assert!(!stderr.contains("processes.seed.replicas"), "the Job sets PC_REPLICA_NUM per pod: {stderr}");

    // The manifests validate against the Kubernetes schemas.
    let o = Command::new("kubernetes-validate").arg("--strict").arg(dir.path().join("out/kubernetes.yaml")).output().expect("kubernetes-validate (pip install kubernetes-validate)");
    let report = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && !report.contains("ERROR"), "{report}");
}

#[test]
fn strict_refuses_replicas_that_differ() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(CORRAL)
        .args(["export", "kubernetes", "--strict", "-f"])
        .arg(fixture())
        .arg("-o")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("processes.shard.replicas"));
    assert!(!dir.path().join("out").exists(), "nothing written");
}

#[test]
fn the_replicas_export_matches_the_golden_file() {
    let (text, ..) = export(&["--image", "registry.example/farm:1"]);
    let path = golden();
    if std::env::var_os("CORRAL_BLESS").is_some() {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (CORRAL_BLESS=1 writes it)", path.display()));
    assert!(expected == text, "{} differs from the export:\n{text}", path.display());
}
