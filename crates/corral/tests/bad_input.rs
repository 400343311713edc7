//! Every bad input: one clear message with the field path and the value, exit 2,
//! and nothing started (each config would create `started` if anything ran).

mod support;

use support::Project;

fn rejected(config: &str, expect: &[&str]) {
    let p = Project::new();
    p.raw_config(config);
    let f = p.up(&[]);
    assert_eq!(f.status, 2, "config {config}\nstderr: {}", f.stderr);
    for e in expect {
        assert!(f.stderr.contains(e), "expected {e:?} in:\n{}", f.stderr);
    }
    assert!(!p.file("started").exists(), "something was started");
    assert!(f.stdout.is_empty(), "{}", f.stdout);
    let check = p.start(&["check", "-f", "dev.json"]).wait();
    assert_eq!(check.status, 2, "check must agree: {}", check.stderr);
}

const HOOK: &str = r#""pre_hook": "touch started","#;

#[test]
fn unreadable_file() {
    let p = Project::new();
    let f = p.start(&["up", "-f", "missing.json"]).wait();
    assert_eq!(f.status, 2);
    assert!(f.stderr.contains("cannot read missing.json: No such file or directory"), "{}", f.stderr);
    let f = p.start(&["up", "-f", "."]).wait();
    assert_eq!(f.status, 2);
    assert!(f.stderr.contains("cannot read ."), "{}", f.stderr);
}

#[test]
fn malformed_json() {
    rejected(&format!("{{{HOOK} \"processes\": {{\"a\": {{\"command\": \"x\"}}"), &["dev.json", "EOF while parsing", "line"]);
    rejected("not json at all", &["dev.json: expected", "at line 1 column"]);
    rejected(&format!("{{{HOOK} \"processes\": {{\"a\": {{\"command\": \"x\"}}}}}} trailing"), &["trailing characters"]);
}

#[test]
fn wrong_type() {
    rejected(
        &format!(r#"{{{HOOK} "processes": {{"a": {{"command": "touch started", "disabled": "yes"}}}}}}"#),
        &["processes.a.disabled: invalid type: string \"yes\", expected a boolean"],
    );
    rejected(r#"{"processes": []}"#, &["processes: invalid type: sequence, expected a map"]);
}

#[test]
fn empty_command() {
    rejected(&format!(r#"{{{HOOK} "processes": {{"a": {{"command": ""}}}}}}"#), &["processes.a.command: must not be empty"]);
}

#[test]
fn unknown_dependency() {
    rejected(
        &format!(r#"{{{HOOK} "processes": {{"api": {{"command": "x", "depends_on": {{"bd": {{}}}}}}, "db": {{"command": "x"}}}}}}"#),
        &["processes.api.depends_on.bd: unknown process \"bd\", did you mean \"db\"?"],
    );
}

#[test]
fn dependency_cycle_names_every_process() {
    rejected(
        &format!(
            r#"{{{HOOK} "processes": {{
            "a": {{"command": "x", "depends_on": {{"b": {{}}}}}},
            "b": {{"command": "x", "depends_on": {{"c": {{}}}}}},
            "c": {{"command": "x", "depends_on": {{"a": {{}}}}}}}}}}"#
        ),
        &["dependency cycle: a -> b -> c -> a"],
    );
}

#[test]
fn invalid_signal() {
    rejected(
        &format!(r#"{{{HOOK} "processes": {{"api": {{"command": "x", "shutdown": {{"signal": 99}}}}}}}}"#),
        &[r#"processes.api.shutdown.signal: expected 1..31 or a name like "SIGTERM", got 99"#],
    );
    rejected(
        &format!(r#"{{{HOOK} "processes": {{"api": {{"command": "x", "shutdown": {{"signal": "SIGFOO"}}}}}}}}"#),
        &[r#"got "SIGFOO""#],
    );
}

#[test]
fn negative_timeout() {
    rejected(
        &format!(r#"{{{HOOK} "processes": {{"api": {{"command": "x", "shutdown": {{"timeout_seconds": -5}}}}}}}}"#),
        &["processes.api.shutdown.timeout_seconds: expected a number of seconds from 0 to 31536000, got -5"],
    );
}

#[test]
fn unsupported_format_version() {
    rejected(&format!(r#"{{{HOOK} "format_version": 2, "processes": {{"a": {{"command": "x"}}}}}}"#), &["format_version: unsupported format version 2"]);
}

#[test]
fn not_yet_supported_fields_are_rejected_not_ignored() {
    rejected(
        &format!(r#"{{{HOOK} "processes": {{"a": {{"command": "x", "readiness_probe": {{"http_get": {{"port": 1, "scheme": "https"}}}}}}}}}}"#),
        &["processes.a.readiness_probe.http_get.scheme: expected \"http\", got \"https\" (https probes are not supported yet)"],
    );
}

#[test]
fn a_readiness_condition_without_a_readiness_check_is_a_load_error_not_a_hang() {
    rejected(
        &format!(r#"{{{HOOK} "processes": {{"db": {{"command": "x"}}, "api": {{"command": "x", "depends_on": {{"db": {{"condition": "process_healthy"}}}}}}}}}}"#),
        &["processes.api.depends_on.db.condition: process_healthy needs db to have a readiness check"],
    );
    rejected(
        &format!(r#"{{{HOOK} "processes": {{"db": {{"command": "x"}}, "api": {{"command": "x", "depends_on": {{"db": {{"condition": "process_log_ready"}}}}}}}}}}"#),
        &["process_log_ready needs db to have a ready_log_line"],
    );
}

#[test]
fn bad_probes_are_load_errors() {
    rejected(
        &format!(r#"{{{HOOK} "processes": {{"db": {{"command": "x", "readiness_probe": {{"http_get": {{"port": 0}}}}}}}}}}"#),
        &["processes.db.readiness_probe.http_get.port: expected a port 1..65535, got 0"],
    );
    rejected(
        &format!(r#"{{{HOOK} "processes": {{"db": {{"command": "x", "liveness_probe": {{"exec": {{"command": "true"}}, "success_threshold": 0}}}}}}}}"#),
        &["processes.db.liveness_probe.success_threshold: must be at least 1"],
    );
}

#[test]
fn strict_mode_rejects_unknown_keys_and_otherwise_warns() {
    rejected(&format!(r#"{{{HOOK} "is_strict": true, "processes": {{"a": {{"command": "x", "typo": 1}}}}}}"#), &["processes.a.typo: unknown key"]);
    let p = Project::new();
    p.raw_config(r#"{"processes": {"a": {"command": "true", "typo": 1, "x-mine": 2}}, "log_level": "debug"}"#);
    let f = p.up(&[]);
    assert_eq!(f.status, 0);
    assert!(f.stderr.contains("warning: dev.json: processes.a.typo: unknown key"), "{}", f.stderr);
    assert!(!f.stderr.contains("x-mine") && !f.stderr.contains("log_level"), "x-* keys are allowed, no-op notes only in check: {}", f.stderr);
    let c = p.start(&["check", "-f", "dev.json"]).wait();
    assert_eq!(c.status, 0);
    assert!(c.stderr.contains("note: dev.json: log_level: accepted for compatibility and ignored"), "{}", c.stderr);
    assert!(c.stdout.contains("dev.json: ok, 1 process(es), 1 warning(s)"), "{}", c.stdout);
}

#[test]
fn several_problems_are_reported_together() {
    let p = Project::new();
    p.raw_config(r#"{"processes": {"a": {"command": ""}, "b": {"command": "x", "depends_on": {"zz": {}}}}}"#);
    let f = p.start(&["check", "-f", "dev.json"]).wait();
    assert_eq!(f.status, 2);
    assert!(f.stderr.contains("processes.a.command: must not be empty"), "{}", f.stderr);
    assert!(f.stderr.contains("processes.b.depends_on.zz: unknown process"), "{}", f.stderr);
    assert!(f.stderr.contains("2 error(s)"), "{}", f.stderr);
}
