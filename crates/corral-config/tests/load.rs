//! The loader's contract: every bad input names its field path and value.

use std::path::Path;

use corral_config::{load_bytes, LoadError, Severity};

fn err(json: &str) -> String {
    match load_bytes(json.as_bytes(), Path::new("dev.json")) {
        Ok(_) => panic!("expected an error for {}", &json[..json.len().min(200)]),
        Err(e @ LoadError::Invalid { .. }) => {
            let LoadError::Invalid { diagnostics, .. } = &e else { unreachable!() };
            diagnostics.iter().filter(|d| d.severity == Severity::Error).map(|d| d.to_string()).collect::<Vec<_>>().join("\n")
        }
        Err(e) => e.to_string(),
    }
}

fn ok(json: &str) -> corral_config::Loaded {
    load_bytes(json.as_bytes(), Path::new("dev.json")).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn wrong_signal_names_path_and_value() {
    let e = err(r#"{"processes": {"api": {"command": "x", "shutdown": {"signal": 99}}}}"#);
    assert!(e.contains(r#"processes.api.shutdown.signal: expected 1..31 or a name like "SIGTERM", got 99"#), "{e}");
}

#[test]
fn wrong_type_names_path() {
    let e = err(r#"{"processes": {"api": {"command": ["a"]}}}"#);
    assert!(e.contains("processes.api.command: invalid type: sequence, expected a string"), "{e}");
    let e = err(r#"{"processes": {"api": {"command": "x", "environment": ["A=1", "B"]}}}"#);
    assert!(e.contains("processes.api.environment[1]: expected \"NAME=value\", got \"B\""), "{e}");
}

#[test]
fn negative_timeout() {
    let e = err(r#"{"processes": {"api": {"command": "x", "shutdown": {"timeout_seconds": -1}}}}"#);
    assert!(e.contains("processes.api.shutdown.timeout_seconds: expected a number of seconds from 0 to 31536000, got -1"), "{e}");
}

#[test]
fn malformed_json_has_a_position() {
    let e = err(r#"{"processes": {"api": {"command": "x"}"#);
    assert!(e.contains("dev.json") && e.contains("line 1"), "{e}");
    let e = err("{\"processes\": {}} trailing");
    assert!(e.contains("trailing"), "{e}");
}

#[test]
fn empty_command_and_missing_command() {
    assert!(err(r#"{"processes": {"api": {"command": "  "}}}"#).contains("processes.api.command: must not be empty"));
    assert!(err(r#"{"processes": {"api": {}}}"#).contains("processes.api.command: missing"));
    assert!(err(r#"{"processes": {"api": {"entrypoint": []}}}"#).contains("processes.api.entrypoint"));
}

#[test]
fn unknown_dependency_and_cycle_in_one_report() {
    let e = err(r#"{"processes": {
        "a": {"command": "x", "depends_on": {"b": {}}},
        "b": {"command": "x", "depends_on": {"a": {}}},
        "c": {"command": "x", "depends_on": {"nope": {}}}}}"#);
    assert!(e.contains("processes.c.depends_on.nope: unknown process \"nope\""), "{e}");
    assert!(e.contains("dependency cycle: a -> b -> a"), "{e}");
}

#[test]
fn unsupported_format_version() {
    let e = err(r#"{"format_version": 7, "processes": {"a": {"command": "x"}}}"#);
    assert!(e.contains("format_version: unsupported format version 7"), "{e}");
}

#[test]
fn unknown_keys_warn_or_fail_under_strict() {
    let l = ok(r#"{"processes": {"a": {"command": "x", "comand": "y", "x-note": 1}}, "x-top": {}, "log_level": "debug", "version": "0.5"}"#);
    let shown: Vec<String> = l.diagnostics.iter().map(|d| format!("{:?} {d}", d.severity)).collect();
    assert!(shown.contains(&"Warning processes.a.comand: unknown key".to_string()), "{shown:?}");
    assert!(shown.iter().any(|s| s.starts_with("Note log_level: accepted for compatibility")), "{shown:?}");
    assert_eq!(shown.len(), 2, "{shown:?}");
    let e = err(r#"{"is_strict": true, "processes": {"a": {"command": "x", "comand": "y"}}}"#);
    assert!(e.contains("processes.a.comand: unknown key (is_strict is set)"), "{e}");
}

#[test]
fn not_yet_built_fields_are_rejected_by_name() {
    let e = err(r#"{"processes": {"a": {"command": "x", "readiness_probe": {"exec": {"command": "true"}}}}}"#);
    assert!(e.contains("processes.a.readiness_probe: not supported yet"), "{e}");
    let e = err(r#"{"processes": {"a": {"command": "x", "availability": {"restart": "always"}}}}"#);
    assert!(e.contains("processes.a.availability.restart: \"always\" is not supported yet"), "{e}");
    let e = err(r#"{"processes": {"a": {"command": "x"}, "b": {"command": "x", "depends_on": {"a": {"condition": "process_healthy"}}}}}"#);
    assert!(e.contains("processes.b.depends_on.a.condition: process_healthy is not supported yet"), "{e}");
    // Values that ask for nothing are fine.
    ok(r#"{"processes": {"a": {"command": "x", "is_daemon": false, "replicas": 1, "ready_log_line": ""}}}"#);
}

#[test]
fn env_expansion_cannot_be_enabled() {
    assert!(err(r#"{"disable_env_expansion": false, "processes": {"a": {"command": "x"}}}"#).contains("disable_env_expansion: false is not supported"));
    ok(r#"{"disable_env_expansion": true, "processes": {"a": {"command": "x"}}}"#);
}

#[test]
fn double_dollar_warns() {
    let l = ok(r#"{"processes": {"a": {"command": "echo $$HOME"}}}"#);
    assert!(l.diagnostics.iter().any(|d| d.severity == Severity::Warning && d.path == "processes.a.command"));
}

#[test]
fn deep_nesting_and_huge_numbers_are_errors_not_panics() {
    let nest = |key: &str, depth: usize| {
        format!("{{\"processes\": {{\"a\": {{\"command\": \"x\", \"{key}\": {}1{}}}}}}}", "[".repeat(depth), "]".repeat(depth))
    };
    assert!(err(&nest("readiness_probe", 10_000)).contains("recursion limit"));
    // An ignored extension key is skipped without recursion: no stack overflow.
    ok(&nest("x-deep", 200_000));
    assert!(err(r#"{"processes": {"a": {"command": "x", "shutdown": {"signal": 1e400}}}}"#).contains("processes.a"));
    assert!(err(r#"{"processes": {"a": {"command": "x", "success_exit_codes": [99999999999999999999]}}}"#).contains("success_exit_codes"));
}

#[test]
fn non_utf8_is_an_error() {
    let bytes = b"{\"processes\": {\"a\": {\"command\": \"\xff\xfe\"}}}";
    let e = load_bytes(bytes, Path::new("dev.json")).unwrap_err().to_string();
    assert!(e.contains("processes.a.command") && e.contains("unicode") || e.contains("UTF-8"), "{e}");
}

#[test]
fn schema_is_valid_json_and_names_fields() {
    let s = corral_config::json_schema();
    let text = s.to_string();
    for field in ["processes", "pre_hook", "shutdown", "success_exit_codes", "depends_on", "timeout_seconds"] {
        assert!(text.contains(field), "schema lacks {field}");
    }
    assert!(!text.contains("readiness_probe"), "unsupported fields stay out of the schema");
}
