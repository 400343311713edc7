//! The mappings as pure functions: a config in, files and warnings out. The
//! real validators run against the binary's output in crates/corral/tests/export.rs.

use corral_export::{export, Export, Format, Options};

fn run(json: &str, format: Format) -> Export {
    let loaded = corral_config::load_bytes(json.as_bytes(), "test.json".as_ref()).expect("valid config");
    export(&loaded.config, format, &Options::new("t", "/srv/t")).expect("exports")
}

fn file<'a>(e: &'a Export, name: &str) -> &'a str {
    &e.files.iter().find(|f| f.name == name).unwrap_or_else(|| panic!("no {name}")).contents
}

fn fields(e: &Export) -> Vec<&str> {
    e.warnings.iter().map(|w| w.field.as_str()).collect()
}

const DEPS: &str = r#"{"processes": {
  "setup": { "command": "true" },
  "db": { "command": "db", "ready_notify": true },
  "api": { "command": "api", "depends_on": {
    "setup": { "condition": "process_completed" },
    "db": { "condition": "process_healthy" } } },
  "tail": { "command": "tail", "depends_on": { "logger": { "condition": "process_log_ready" } } },
  "logger": { "command": "x", "ready_log_line": "up" },
  "off": { "command": "off", "disabled": true }
}}"#;

#[test]
fn systemd_maps_conditions_to_requires_wants_and_unit_types() {
    let e = run(DEPS, Format::Systemd);
    let api = file(&e, "t-api.service");
    assert!(api.contains("Wants=t-setup.service\nAfter=t-setup.service\n"), "{api}");
    assert!(api.contains("Requires=t-db.service\nAfter=t-db.service\n"), "{api}");
    assert!(file(&e, "t-setup.service").contains("Type=oneshot\nRemainAfterExit=yes\n"));
    assert!(file(&e, "t-db.service").contains("Type=notify\n"));
    assert!(api.contains("Type=exec\n") && api.contains("WorkingDirectory=/srv/t\n"));
    let target = file(&e, "t.target");
    assert!(target.contains("Wants=t-api.service") && !target.contains("Wants=t-off.service") && target.contains("# disabled (start it by hand): t-off.service"));
    assert_eq!(fields(&e), ["processes.logger.ready_log_line", "processes.tail.depends_on.logger.condition"]);
}

#[test]
fn systemd_backoff_doubles_over_restart_steps() {
    let e = run(r#"{"processes": {"a": {"command": "a", "availability": {"restart": "on_failure", "backoff_seconds": 0.5, "backoff_max_seconds": 4, "max_restarts": 2}}}}"#, Format::Systemd);
    let a = file(&e, "t-a.service");
    assert!(a.contains("RestartSec=500ms\nRestartSteps=3\nRestartMaxDelaySec=4s\n"), "{a}");
    // Three starts (the first and two restarts) within 3 × (10 s stable + 4 s delay).
    assert!(a.contains("StartLimitIntervalSec=42s\nStartLimitBurst=3\n"), "{a}");
    assert!(e.warnings.is_empty(), "{:?}", e.warnings);
}

#[test]
fn compose_escapes_every_dollar_and_waits_for_the_start_without_a_healthcheck() {
    let e = run(DEPS, Format::Compose);
    let c = file(&e, "compose.yaml");
    assert!(c.contains("condition: service_started") && !c.contains("service_healthy"), "{c}");
    assert!(fields(&e).contains(&"processes.api.depends_on.db.condition"));
    let d = run(r#"{"processes": {"a": {"command": "echo $HOME ${X}", "environment": ["P=$1"]}}}"#, Format::Compose);
    let c = file(&d, "compose.yaml");
    assert!(c.contains("echo $$HOME $${X}") && c.contains("P: $$1"), "{c}");
}

#[test]
fn kubernetes_one_shots_are_jobs_and_a_disabled_deployment_has_no_replicas() {
    let e = run(DEPS, Format::Kubernetes);
    let k = file(&e, "kubernetes.yaml");
    let kinds: Vec<&str> = k.lines().filter_map(|l| l.strip_prefix("kind: ")).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "Job").count(), 1, "{k}");
    assert_eq!(kinds.iter().filter(|k| **k == "Deployment").count(), 5, "{k}");
    assert!(k.contains("name: t-setup\n") && k.contains("- job/t-setup\n"), "{k}");
    assert!(k.contains("replicas: 0\n"), "{k}");
    assert!(k.contains("serviceAccountName: t-waiter"), "{k}");
}

#[test]
fn procfile_comments_out_disabled_processes_and_reports_everything_it_drops() {
    let e = run(DEPS, Format::Procfile);
    let p = file(&e, "Procfile");
    assert!(p.contains("\n# off: exec env bash -c off\n"), "{p}");
    assert!(p.contains("\napi: exec env bash -c api\n"), "{p}");
    let f = fields(&e);
    for field in ["processes.api.depends_on.setup", "processes.api.depends_on.db", "processes.db.ready_notify", "processes.off.disabled"] {
        assert!(f.contains(&field), "{field} not in {f:?}");
    }
}

#[test]
fn names_that_collide_on_the_target_are_an_error() {
    let options = Options::new("t", "/srv/t");
    let config = |a: &str, b: &str| {
        let json = format!(r#"{{"processes": {{"{a}": {{"command": "x"}}, "{b}": {{"command": "y"}}}}}}"#);
        corral_config::load_bytes(json.as_bytes(), "t.json".as_ref()).unwrap().config
    };
    for (format, a, b) in [(Format::Compose, "a+b", "a-b"), (Format::Kubernetes, "a+b", "a-b"), (Format::Procfile, "a+b", "a_b")] {
        let err = export(&config(a, b), format, &options).expect_err("a collision");
        assert!(err.to_string().contains(": another process is also named"), "{format:?}: {err}");
    }
    // systemd escapes instead, so both units exist.
    let e = export(&config("a+b", "a-b"), Format::Systemd, &options).unwrap();
    assert!(e.files.iter().any(|f| f.name == r"t-a\x2bb.service") && e.files.iter().any(|f| f.name == "t-a-b.service"));
    // A renamed process is reported by its own path.
    let e = export(&config("a+b", "c"), Format::Compose, &options).unwrap();
    assert_eq!(e.warnings[0].field, "processes.a+b");
}
