//! `corral export`: the real binary's output checked by the real validators
//! (`systemd-analyze verify`, the compose-spec JSON schema, `kubernetes-validate`),
//! for the example and for a fixture that uses every mapped field, plus golden
//! files (reviewed by hand once; `CORRAL_BLESS=1` rewrites them after a deliberate change).
//!
//! The validators are installed by .ci/run: systemd (systemd-analyze), python3 with
//! jsonschema and PyYAML, kubernetes-validate (PyPI), and the compose-spec schema
//! as shipped by the dclint npm package (`npm install -g dclint`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CORRAL: &str = env!("CARGO_BIN_EXE_corral");

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
fn example() -> PathBuf {
    manifest_dir().join("../../example/dev.json")
}
fn every_field() -> PathBuf {
    manifest_dir().join("tests/fixtures/export/every-field.json")
}
fn golden(name: &str) -> PathBuf {
    manifest_dir().join("tests/fixtures/export/golden").join(name)
}

fn corral(args: &[&str]) -> Output {
    Command::new(CORRAL).args(args).output().expect("run corral")
}

/// Exports `config` to a fresh directory; returns it with the stderr text.
fn export_to_dir(config: &Path, format: &str, extra: &[&str]) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut args = vec!["export", format, "-f", config.to_str().unwrap(), "-o", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = corral(&args);
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "corral export {format} failed: {stderr}");
    (dir, stderr)
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

/// Compares `actual` with the golden file `name` (or rewrites it under CORRAL_BLESS=1).
fn check_golden(name: &str, actual: &str) {
    let path = golden(name);
    if std::env::var_os("CORRAL_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (CORRAL_BLESS=1 writes it)", path.display()));
    assert!(expected == actual, "{} differs from the export:\n{actual}", path.display());
}

fn require(tool: &str, install: &str) {
    let found = Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().map(|o| o.status.success()).unwrap_or(false);
    assert!(found, "{tool} is needed for this test: {install} (.ci/run installs it)");
}

// ---------------------------------------------------------------- systemd

/// Runs `systemd-analyze verify` on every unit in `dir` (as user units unless
/// `system`) and returns the lines it printed that are not allowed: systemd 252
/// exits 0 on unknown keys, so its output is the verdict. Allowed are only the
/// keys from systemd 254 that the backoff mapping needs.
fn systemd_verify(dir: &Path, system: bool) -> Vec<String> {
    require("systemd-analyze", "apt-get install systemd");
    let runtime = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("systemd-analyze");
    if !system {
        cmd.arg("--user").env("XDG_RUNTIME_DIR", runtime.path());
    }
    cmd.arg("verify").arg("--man=no").args(files_in(dir));
    let o = cmd.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "systemd-analyze verify failed:\n{text}");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| !(l.contains("Unknown key 'RestartSteps'") || l.contains("Unknown key 'RestartMaxDelaySec'")))
        .map(str::to_string)
        .collect()
}

#[test]
fn systemd_units_of_the_example_verify() {
    for system in [false, true] {
        let extra: &[&str] = if system { &["--system"] } else { &[] };
        let (dir, _) = export_to_dir(&example(), "systemd", extra);
        let out = dir.path().join("out");
        let names: Vec<String> = files_in(&out).iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["dev-init.service", "dev-test.service", "dev-web.service", "dev.target"]);
        let bad = systemd_verify(&out, system);
        assert!(bad.is_empty(), "systemd-analyze verify complained:\n{}", bad.join("\n"));
    }
}

#[test]
fn systemd_units_of_every_field_verify_and_match_the_golden_files() {
    let root = tempfile::tempdir().unwrap();
    let (sys, _) = export_to_dir(&every_field(), "systemd", &["--system", "--root", root.path().to_str().unwrap()]);
    let bad = systemd_verify(&sys.path().join("out"), true);
    assert!(bad.is_empty(), "systemd-analyze verify (system units) complained:\n{}", bad.join("\n"));
    let (dir, stderr) = export_to_dir(&every_field(), "systemd", &["--root", root.path().to_str().unwrap()]);
    let out = dir.path().join("out");
    let bad = systemd_verify(&out, false);
    assert!(bad.is_empty(), "systemd-analyze verify complained:\n{}", bad.join("\n"));
    // The backoff keys are there (systemd 254+, named in docs/production.md).
    let db = std::fs::read_to_string(out.join("shop-db.service")).unwrap();
    assert!(db.contains("RestartSteps=3\n") && db.contains("RestartMaxDelaySec=8s\n"), "{db}");
    for field in [
        "pre_hook", "post_hook", "log_location", "processes.cache.ready_log_line", "processes.cache.watch",
        "processes.db.liveness_probe", "processes.notifier.ready_fd", "processes.worker.depends_on.cache.condition",
        "processes.worker.availability.exit_on_skipped",
    ] {
        assert!(stderr.contains(&format!("warning: export systemd: {field}: ")), "no warning for {field}:\n{stderr}");
    }

    let (dir, _) = export_to_dir(&every_field(), "systemd", &["--root", "/srv/shop"]);
    let mut all = String::new();
    for f in files_in(&dir.path().join("out")) {
        all.push_str(&format!("### {}\n{}\n", f.file_name().unwrap().to_string_lossy(), std::fs::read_to_string(&f).unwrap()));
    }
    check_golden("every-field.systemd", &all);
}

// ---------------------------------------------------------------- Compose

/// Validates a YAML file against a JSON schema with python's jsonschema; returns the errors.
fn json_schema_errors(schema: &Path, file: &Path) -> Vec<String> {
    require("python3", "apt-get install python3");
    const SCRIPT: &str = r#"
import json, sys
import yaml, jsonschema
schema = json.load(open(sys.argv[1]))
doc = yaml.safe_load(open(sys.argv[2]))
cls = jsonschema.validators.validator_for(schema)
for e in sorted(cls(schema).iter_errors(doc), key=str):
    print("/".join(map(str, e.absolute_path)) + ": " + e.message)
"#;
    let o = Command::new("python3").arg("-c").arg(SCRIPT).arg(schema).arg(file).output().unwrap();
    assert!(o.status.success(), "the schema check could not run (pip install jsonschema pyyaml): {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).lines().map(str::to_string).collect()
}

/// The set's global environment must come back unchanged from every process of a
/// YAML export (Compose: after undoing `$$`; Kubernetes: ConfigMaps and Secrets).
fn yaml_environment_round_trips(file: &Path, format: &str) {
    const SCRIPT: &str = r#"
import json, sys, yaml
config = json.load(open(sys.argv[1]))
want = config["environment"]
docs = [d for d in yaml.safe_load_all(open(sys.argv[2])) if d]
if sys.argv[3] == "compose":
    envs = [{k: v.replace("$$", "$") for k, v in s["environment"].items()} for n, s in docs[0]["services"].items() if n != "corral-net"]
else:
    envs = [d.get("data") or d.get("stringData") for d in docs if d["kind"] in ("ConfigMap", "Secret")]
assert len(envs) == len(config["processes"]), (len(envs), envs)
for env in envs:
    for k, v in want.items():
        assert env[k] == v, (k, env[k], v)
"#;
    let o = Command::new("python3").arg("-c").arg(SCRIPT).arg(every_field()).arg(file).arg(format).output().unwrap();
    assert!(o.status.success(), "{format}: the environment does not round-trip: {}", String::from_utf8_lossy(&o.stderr));
}

/// The compose-spec JSON schema, as the dclint npm package ships it (or $CORRAL_COMPOSE_SCHEMA).
fn compose_schema() -> PathBuf {
    if let Some(p) = std::env::var_os("CORRAL_COMPOSE_SCHEMA") {
        return p.into();
    }
    require("npm", "apt-get install npm");
    let o = Command::new("npm").args(["root", "-g"]).output().unwrap();
    let path = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()).join("dclint/schemas/compose.schema.json");
    assert!(path.is_file(), "{} is missing: npm install -g dclint@3.1.0 (it ships the compose-spec schema)", path.display());
    path
}

#[test]
fn compose_files_validate_against_the_compose_spec_schema() {
    let schema = compose_schema();
    for config in [example(), every_field()] {
        let (dir, _) = export_to_dir(&config, "compose", &[]);
        let file = dir.path().join("out/compose.yaml");
        let errors = json_schema_errors(&schema, &file);
        assert!(errors.is_empty(), "{}: compose.yaml breaks the compose-spec schema:\n{}", config.display(), errors.join("\n"));
    }
    // The check can fail: a wrong type is reported.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "services:\n  a:\n    image: x\n    restart: 3\n").unwrap();
    assert!(!json_schema_errors(&schema, &bad).is_empty());
}

#[test]
fn compose_export_of_every_field_matches_the_golden_file_and_names_what_it_drops() {
    let (dir, stderr) = export_to_dir(&every_field(), "compose", &[]);
    yaml_environment_round_trips(&dir.path().join("out/compose.yaml"), "compose");
    check_golden("every-field.compose.yaml", &std::fs::read_to_string(dir.path().join("out/compose.yaml")).unwrap());
    for field in [
        "processes.db.liveness_probe", "processes.db.shutdown.command", "processes.events.ready_notify", "processes.events.watchdog",
        "processes.worker.depends_on.migrate.condition", "processes.migrate.success_exit_codes", "processes.report.availability.exit_on_end",
    ] {
        assert!(stderr.contains(&format!("warning: export compose: {field}: ")), "no warning for {field}:\n{stderr}");
    }
}

// ---------------------------------------------------------------- Kubernetes

/// `kubernetes-validate --strict` on a file; returns its complaints.
fn kubernetes_errors(file: &Path) -> Vec<String> {
    require("kubernetes-validate", "pip install kubernetes-validate");
    let o = Command::new("kubernetes-validate").arg("--strict").arg(file).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let mut bad: Vec<String> = text.lines().filter(|l| !l.starts_with("INFO ")).map(str::to_string).collect();
    if !o.status.success() && bad.is_empty() {
        bad.push(format!("kubernetes-validate exited with {}", o.status));
    }
    bad
}

#[test]
fn kubernetes_manifests_validate_against_the_kubernetes_schemas() {
    for (config, kinds) in [
        (example(), &["ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Job", "Deployment"][..]),
        (every_field(), &["ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Service", "Job", "Deployment"][..]),
    ] {
        let (dir, _) = export_to_dir(&config, "kubernetes", &["--image", "registry.example/shop:1"]);
        let file = dir.path().join("out/kubernetes.yaml");
        let errors = kubernetes_errors(&file);
        assert!(errors.is_empty(), "{}: kubernetes.yaml does not validate:\n{}", config.display(), errors.join("\n"));
        let text = std::fs::read_to_string(&file).unwrap();
        for kind in kinds {
            assert!(text.contains(&format!("\nkind: {kind}\n")), "no {kind} in:\n{text}");
        }
        assert!(text.contains("image: registry.example/shop:1"));
    }
    // Values named with --secret move to Secrets, which validate too.
    let (dir, _) = export_to_dir(&every_field(), "kubernetes", &["--secret", "GREETING"]);
    let file = dir.path().join("out/kubernetes.yaml");
    let errors = kubernetes_errors(&file);
    assert!(errors.is_empty(), "with --secret: {}", errors.join("\n"));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("\nkind: Secret\n") && text.contains("secretRef:") && text.contains("stringData:\n  GREETING: hello 100% $HOME\n"), "{text}");
    // The check can fail: a wrong type is reported.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: 1\n").unwrap();
    assert!(!kubernetes_errors(&bad).is_empty());
}

#[test]
fn kubernetes_export_of_every_field_matches_the_golden_file_and_names_what_it_drops() {
    let (dir, stderr) = export_to_dir(&every_field(), "kubernetes", &["--process-image", "db=redis:7"]);
    let text = std::fs::read_to_string(dir.path().join("out/kubernetes.yaml")).unwrap();
    assert!(text.contains("image: redis:7"), "{text}");
    yaml_environment_round_trips(&dir.path().join("out/kubernetes.yaml"), "kubernetes");
    check_golden("every-field.kubernetes.yaml", &text);
    for field in [
        "processes.db.availability.max_restarts", "processes.api.shutdown.signal", "processes.events.ready_notify",
        "processes.events.watchdog", "processes.worker.depends_on.cache.condition", "processes.api.readiness_probe.http_get.status_code",
    ] {
        assert!(stderr.contains(&format!("warning: export kubernetes: {field}: ")), "no warning for {field}:\n{stderr}");
    }
}

// ---------------------------------------------------------------- Procfile

#[test]
fn procfile_lines_run_under_honcho_with_their_directory_environment_and_text() {
    require("honcho", "pip install honcho");
    let (dir, _) = export_to_dir(&manifest_dir().join("tests/fixtures/export/procfile-run.json"), "procfile", &[]);
    let out = dir.path().join("out");
    std::fs::create_dir(out.join("sub dir")).unwrap();
    let o = Command::new("honcho").args(["--no-colour", "--no-prefix", "start", "show"]).current_dir(&out).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("cwd=sub dir\n"), "{text}");
    assert!(text.contains("greeting=it's 100% \"$HOME\" mode=test run\n"), "{text}");
    assert!(text.contains("back\\slash\n"), "{text}");
}

#[test]
fn procfile_of_every_field_is_valid_for_honcho_and_matches_the_golden_file() {
    require("honcho", "pip install honcho");
    let (dir, stderr) = export_to_dir(&every_field(), "procfile", &[]);
    let out = dir.path().join("out");
    let o = Command::new("honcho").arg("check").current_dir(&out).output().unwrap();
    let text = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && text.contains("Valid procfile detected (cache, db, events, migrate, api, notifier, worker)"), "{text}");
    check_golden("every-field.Procfile", &std::fs::read_to_string(out.join("Procfile")).unwrap());
    for field in ["processes.api.depends_on.db", "processes.db.readiness_probe", "processes.report.disabled", "processes.events.listen"] {
        assert!(stderr.contains(&format!("warning: export procfile: {field}: ")), "no warning for {field}:\n{stderr}");
    }
}

// ---------------------------------------------------------------- bad input

fn run_export(args: &[&str]) -> (i32, String, String) {
    let o = corral(args);
    (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn strict_turns_every_unexpressible_field_into_an_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("units");
    let ex = example();
    let (code, stdout, stderr) = run_export(&["export", "kubernetes", "--strict", "-f", ex.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.contains("error: export kubernetes: processes.web.shutdown.signal: "), "{stderr}");
    assert!(stderr.contains("error: export kubernetes: pre_hook: "), "{stderr}");
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert!(!out.exists(), "--strict created the output directory");
    // Without --strict the same export succeeds, with the same fields as warnings.
    let (code, _, stderr) = run_export(&["export", "kubernetes", "-f", ex.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("warning: export kubernetes: processes.web.shutdown.signal: "), "{stderr}");
    // A set every target can express passes --strict.
    let plain = dir.path().join("plain.json");
    std::fs::write(&plain, r#"{"processes":{"api":{"command":"exec sleep 100","availability":{"restart":"always"}}}}"#).unwrap();
    let (code, stdout, stderr) = run_export(&["export", "kubernetes", "--strict", "-f", plain.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("kind: Deployment") && stderr.is_empty(), "{stdout}\n{stderr}");
}

#[test]
fn an_existing_file_in_the_output_directory_stops_the_export_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("units");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("dev-web.service"), "mine\n").unwrap();
    let ex = example();
    let (code, _, stderr) = run_export(&["export", "systemd", "-f", ex.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("dev-web.service: already exists") && stderr.contains("nothing was written"), "{stderr}");
    let left: Vec<PathBuf> = files_in(&out);
    assert_eq!(left, [out.join("dev-web.service")], "files were written half-way");
    assert_eq!(std::fs::read_to_string(out.join("dev-web.service")).unwrap(), "mine\n");
}

#[test]
fn an_unwritable_output_is_an_error_that_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ex = example();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    // Root ignores permission bits, so unwritable places are a regular file, a
    // directory under a regular file, and /proc (which takes no new files).
    let cases = [file.clone(), file.join("sub"), PathBuf::from("/proc/self"), PathBuf::from("/proc/corral-export-test")];
    for out in &cases {
        let (code, stdout, stderr) = run_export(&["export", "systemd", "-f", ex.to_str().unwrap(), "-o", out.to_str().unwrap()]);
        assert_eq!(code, 2, "{}: {stderr}", out.display());
        assert!(stdout.is_empty() && stderr.contains("nothing was written"), "{}: {stderr}", out.display());
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
    assert_eq!(files_in(dir.path()), [file]);
}

#[test]
fn bad_arguments_are_errors_with_status_2() {
    let ex = example();
    let ex = ex.to_str().unwrap();
    let (code, _, stderr) = run_export(&["export", "compose", "-f", ex, "--process-image", "nosuch=img"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--process-image \"nosuch=img\""), "{stderr}");
    let (code, _, stderr) = run_export(&["export", "compose", "-f", ex, "--root", "relative/dir"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--root relative/dir: must be an absolute path"), "{stderr}");
    let (code, _, stderr) = run_export(&["export", "kubernetes", "-f", ex, "--secret", "NOPE"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--secret NOPE: no process has this environment variable"), "{stderr}");
    let (code, _, _) = run_export(&["export", "systemd", "-f", "/nonexistent/corral.json"]);
    assert_eq!(code, 2);
    let (code, _, stderr) = run_export(&["export", "compose", "-f", ex, "--system"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--system applies to systemd only, not compose"), "{stderr}");
    let (code, _, stderr) = run_export(&["export", "systemd", "-f", ex, "--image", "x"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--image applies to compose and kubernetes only, not systemd"), "{stderr}");
    let (code, _, _) = run_export(&["export", "nosuchformat", "-f", ex]);
    assert_eq!(code, 2);
}
