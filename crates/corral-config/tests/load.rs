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
    let e = err(r#"{"processes": {"a": {"command": "x", "env_file": ".env"}}}"#);
    assert!(e.contains("processes.a.env_file: not supported yet"), "{e}");
    let e = err(r#"{"processes": {"a": {"command": "x", "is_daemon": "yes"}}}"#);
    assert!(e.contains("processes.a.is_daemon"), "{e}");
    ok(r#"{"processes": {"a": {"command": "x", "is_daemon": true}}}"#);
    let e = err(r#"{"processes": {"a": {"command": "x", "replicas": 3}}}"#);
    assert!(e.contains("processes.a.replicas: not supported yet by this corral (got 3)"), "{e}");
    // Values that ask for nothing are fine.
    ok(r#"{"processes": {"a": {"command": "x", "is_daemon": false, "replicas": 1, "env_file": ""}}}"#);
}

#[test]
fn readiness_conditions_need_a_readiness_check_on_the_dependency() {
    let e = err(r#"{"processes": {"a": {"command": "x"}, "b": {"command": "x", "depends_on": {"a": {"condition": "process_healthy"}}}}}"#);
    assert!(e.contains("processes.b.depends_on.a.condition: process_healthy needs a to have a readiness check"), "{e}");
    let e = err(r#"{"processes": {"a": {"command": "x"}, "b": {"command": "x", "depends_on": {"a": {"condition": "process_log_ready"}}}}}"#);
    assert!(e.contains("process_log_ready needs a to have a ready_log_line"), "{e}");
    ok(r#"{"processes": {"a": {"command": "x", "ready_log_line": "up"}, "b": {"command": "x", "depends_on": {"a": {"condition": "process_log_ready"}}}}}"#);
    ok(r#"{"processes": {"a": {"command": "x", "readiness_probe": {"tcp_socket": {"port": 5432}}}, "b": {"command": "x", "depends_on": {"a": {"condition": "process_healthy"}}}}}"#);
}

#[test]
fn probes_are_checked() {
    let probe = |p: &str| err(&format!(r#"{{"processes": {{"a": {{"command": "x", "readiness_probe": {p}}}}}}}"#));
    assert!(probe(r#"{"period_seconds": 1}"#).contains("processes.a.readiness_probe: needs exactly one of exec, http_get, tcp_socket (got 0)"));
    assert!(probe(r#"{"exec": {"command": "true"}, "tcp_socket": {"port": 1}}"#).contains("(got 2)"));
    assert!(probe(r#"{"http_get": {"port": 80, "scheme": "https"}}"#).contains("processes.a.readiness_probe.http_get.scheme: expected \"http\", got \"https\""));
    assert!(probe(r#"{"http_get": {"port": 70000}}"#).contains("processes.a.readiness_probe.http_get.port: expected a port 1..65535, got 70000"));
    assert!(probe(r#"{"tcp_socket": {"port": 1}, "failure_threshold": 0}"#).contains("processes.a.readiness_probe.failure_threshold: must be at least 1"));
    assert!(probe(r#"{"tcp_socket": {"port": 1}, "period_seconds": 0}"#).contains("period_seconds: must be more than 0"));
    assert!(probe(r#"{"exec": {"command": " "}}"#).contains("readiness_probe.exec.command: must not be empty"));
    let e = err(r#"{"processes": {"a": {"command": "x", "ready_log_line": "up", "readiness_probe": {"tcp_socket": {"port": 1}}}}}"#);
    assert!(e.contains("processes.a.ready_log_line: cannot be combined with readiness_probe"), "{e}");
    let l = ok(r#"{"processes": {"a": {"command": "x", "liveness_probe": {"http_get": {"port": "8080", "path": "/health", "headers": {"X-A": "1"}, "status_code": 204}}}}}"#);
    let probe = l.config.processes["a"].liveness_probe.as_ref().unwrap();
    assert_eq!(probe.http_get.as_ref().unwrap().port, corral_config::ProbePort::Number(corral_config::Port(8080)));
    assert_eq!(probe.period_seconds.0.as_secs(), 10, "process-compose's default period");
    assert_eq!((probe.success_threshold, probe.failure_threshold), (1, 3));
}

#[test]
fn activation_fields_load_and_are_checked() {
    let l = ok(r#"{"strict_ports": true, "processes": {"api": {"command": "x", "ready_notify": true,
        "watchdog": {"timeout_seconds": 2},
        "listen": [{"name": "http", "tcp": "127.0.0.1:8080"}, {"name": "ctl", "unix_stream": "run/ctl.sock", "mode": "0600"}],
        "ports": {"admin": 9000},
        "readiness_probe": null,
        "liveness_probe": {"http_get": {"port": "admin"}}},
        "web": {"command": "x", "depends_on": {"api": {"condition": "process_healthy"}}}}}"#);
    let api = &l.config.processes["api"];
    assert!(api.ready_notify && l.config.strict_ports);
    assert_eq!(api.watchdog.as_ref().unwrap().signal.number(), 6, "SIGABRT by default");
    assert!(api.watchdog.as_ref().unwrap().require_ready);
    assert_eq!(api.listen.len(), 2);
    let e = err(r#"{"processes": {"a": {"command": "x", "ports": {"http": 0}}}}"#);
    assert!(e.contains("processes.a.ports.http: expected a port 1..65535, got 0"), "{e}");
    let e = err(r#"{"processes": {"a": {"command": "x", "listen": [{"name": "h", "tcp": "localhost:80"}]}}}"#);
    assert!(e.contains("processes.a.listen[0].tcp: expected an address like \"127.0.0.1:8080\""), "{e}");
    let e = err(r#"{"processes": {"a": {"command": "x", "listen": [{"name": "a:b", "udp": "127.0.0.1:1"}, {"name": "c", "tcp": "127.0.0.1:2", "udp": "127.0.0.1:3"}]}}}"#);
    assert!(e.contains("processes.a.listen[0].name: expected a name without ':'") && e.contains("processes.a.listen[1]: needs exactly one of tcp, udp, unix_stream (got 2)"), "{e}");
    let e = err(r#"{"processes": {"a": {"command": "x", "ready_notify": true, "ready_log_line": "up"}}}"#);
    assert!(e.contains("cannot be combined with") && e.contains("a process has one readiness check"), "{e}");
    let e = err(r#"{"processes": {"a": {"command": "x", "ready_fd": 3, "listen": [{"name": "h", "tcp": "127.0.0.1:1"}]}}}"#);
    assert!(e.contains("processes.a.ready_fd: expected an fd from 4 to 1023"), "{e}");
    let e = err(r#"{"processes": {"a": {"command": "x", "readiness_probe": {"tcp_socket": {"port": "nope"}}}}}"#);
    assert!(e.contains("processes.a.readiness_probe.tcp_socket.port: expected a port 1..65535 or the name of one of this process's ports, got \"nope\""), "{e}");
    let e = err(r#"{"processes": {"a": {"command": "x", "watchdog": {"timeout_seconds": 0}}}}"#);
    assert!(e.contains("processes.a.watchdog.timeout_seconds: must be more than 0"), "{e}");
    // ports or listeners count as a health check for process_healthy.
    ok(r#"{"processes": {"a": {"command": "x", "ports": {"p": 8000}}, "b": {"command": "x", "depends_on": {"a": {"condition": "process_healthy"}}}}}"#);
}

#[test]
fn restart_policies_load() {
    let l = ok(r#"{"processes": {"a": {"command": "x", "availability": {"restart": "on_failure", "max_restarts": 5, "backoff_seconds": 0.5, "backoff_max_seconds": 8}}}}"#);
    let a = &l.config.processes["a"].availability;
    assert_eq!(a.max_restarts, 5);
    assert_eq!(a.backoff().as_millis(), 500);
    assert_eq!(a.backoff_max().as_secs(), 8);
    assert!(err(r#"{"processes": {"a": {"command": "x", "availability": {"restart": "sometimes"}}}}"#)
        .contains("processes.a.availability.restart: unknown variant `sometimes`"));
    assert!(err(r#"{"processes": {"a": {"command": "x", "availability": {"restart": "always", "backoff_seconds": 0}}}}"#)
        .contains("backoff_seconds: must be more than 0"));
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
    assert!(err(&nest("env_file", 10_000)).contains("recursion limit"));
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
    assert!(text.contains("readiness_probe") && text.contains("tcp_socket"));
    assert!(text.contains("\"is_daemon\"") && text.contains("\"is_tty\""), "is_daemon and is_tty are built");
}

#[test]
fn duplicate_process_names_are_an_error() {
    let e = err(r#"{"processes": {"api": {"command": "a"}, "db": {"command": "b"}, "api": {"command": "c"}}}"#);
    assert!(e.contains("processes: \"api\" is given twice") && e.contains("line 1"), "{e}");
    let e = err(r#"{"processes": {"api": {"command": "a", "depends_on": {"db": {}, "db": {}}}, "db": {"command": "b"}}}"#);
    assert!(e.contains("processes.api.depends_on: \"db\" is given twice"), "{e}");
}

#[test]
fn a_byte_order_mark_is_named() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(br#"{"processes": {"api": {"command": "a"}}}"#);
    let e = load_bytes(&bytes, Path::new("dev.json")).unwrap_err().to_string();
    assert!(e.contains("dev.json: the file starts with a UTF-8 byte order mark (BOM)"), "{e}");
}
