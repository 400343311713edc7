//! Semantic checks that serde cannot express, each reported with its field path.
//! Dependency problems (unknown names, cycles) live in [`crate::graph`].

use serde_json::Value;

use crate::diagnostic::Diagnostic;
use crate::model::{Condition, Config, Process, RestartPolicy, FORMAT_VERSION};
use crate::probe::{Probe, ProbeKind, ProbePort};

/// Longest process name: it appears in labels, log file names and socket paths.
const MAX_NAME: usize = 128;
/// Linux's MAX_ARG_STRLEN: the longest single argument to exec (the command text is one).
const MAX_ARGUMENT: usize = 128 * 1024;

/// Every problem found; errors and warnings mixed, in file order.
pub fn validate(config: &Config) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if let Some(v) = config.format_version {
        if v != FORMAT_VERSION {
            out.push(Diagnostic::error(
                "format_version",
                format!("unsupported format version {v} (this corral reads version {FORMAT_VERSION})"),
            ));
        }
    }
    if config.disable_env_expansion == Some(false) {
        out.push(Diagnostic::error(
            "disable_env_expansion",
            "false is not supported: corral never expands $VAR at load time; the shell expands it when the command runs",
        ));
    }
    for (key, value) in [("env_cmds", &config.env_cmds), ("vars", &config.vars), ("extends", &config.extends)] {
        if value.as_ref().is_some_and(|v| !is_empty_value(v)) {
            out.push(not_yet(key, value.as_ref().unwrap()));
        }
    }
    if config.shell.shell_command.trim().is_empty() {
        out.push(Diagnostic::error("shell.shell_command", "must not be empty"));
    }
    for (key, text) in [("pre_hook", &config.pre_hook), ("post_hook", &config.post_hook)] {
        if let Some(text) = text {
            warn_double_dollar(&mut out, key, text);
        }
    }
    // An empty set is valid: its hooks still run (e.g. every service switched off).
    for (name, process) in &config.processes {
        validate_process(&mut out, name, process);
        validate_readiness_dependencies(&mut out, config, name, process);
    }
    out
}

/// Characters that print nothing yet change how a name reads: bidi overrides,
/// embeddings and isolates (which reorder what follows, so "db\u{202e}ipa"
/// shows as another name), zero-width characters and other invisible format
/// characters.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00ad}' | '\u{061c}' | '\u{115f}' | '\u{1160}' | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206f}' | '\u{3164}' | '\u{feff}' | '\u{ffa0}' | '\u{fff9}'..='\u{fffb}'
        | '\u{e0000}'..='\u{e007f}')
}

fn validate_process(out: &mut Vec<Diagnostic>, name: &str, p: &Process) {
    let at = |field: &str| format!("processes.{name}.{field}");
    if name.len() > MAX_NAME {
        out.push(Diagnostic::error(format!("processes.{}…", &name[..name.char_indices().nth(32).map_or(name.len(), |(i, _)| i)]), format!("a process name is at most {MAX_NAME} bytes, this one has {}", name.len())));
    } else if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control() || is_invisible(c) || c == '/') {
        out.push(Diagnostic::error(
            format!("processes.{}", name.escape_debug()),
            format!("invalid process name {name:?}: use letters, digits and punctuation other than '/', no spaces, no invisible or direction-changing characters"),
        ));
    }

    match (&p.command, &p.entrypoint) {
        (Some(_), Some(_)) => out.push(Diagnostic::error(at("entrypoint"), "set either command or entrypoint, not both")),
        (Some(cmd), None) if cmd.trim().is_empty() => out.push(Diagnostic::error(at("command"), "must not be empty")),
        (Some(cmd), None) if cmd.len() > MAX_ARGUMENT => out.push(Diagnostic::error(
            at("command"),
            format!("is {} bytes; the kernel passes at most {MAX_ARGUMENT} bytes in one argument (put it in a script)", cmd.len()),
        )),
        (Some(cmd), None) => warn_double_dollar(out, &at("command"), cmd),
        (None, Some(argv)) if argv.first().is_none_or(|a| a.is_empty()) => {
            out.push(Diagnostic::error(at("entrypoint"), "must name a program to run, got an empty list or empty name"))
        }
        (None, Some(_)) => {}
        (None, None) => out.push(Diagnostic::error(at("command"), "missing: set command (shell text) or entrypoint (a program and its arguments)")),
    }

    if let Some(cmd) = &p.shutdown.command {
        if cmd.trim().is_empty() {
            out.push(Diagnostic::error(at("shutdown.command"), "must not be empty (omit it to send shutdown.signal)"));
        } else {
            warn_double_dollar(out, &at("shutdown.command"), cmd);
        }
    }
    if p.success_exit_codes.is_empty() {
        out.push(Diagnostic::error(at("success_exit_codes"), "must list at least one exit status"));
    }

    let a = &p.availability;
    if a.restart == RestartPolicy::No && p.liveness_probe.is_none() {
        if a.max_restarts != 0 {
            out.push(Diagnostic::warning(at("availability.max_restarts"), "has no effect while restart is \"no\" and there is no liveness_probe"));
        }
        if a.backoff_seconds.is_some() || a.backoff_max_seconds.is_some() {
            out.push(Diagnostic::warning(at("availability.backoff_seconds"), "has no effect while restart is \"no\" and there is no liveness_probe"));
        }
    }
    if a.backoff_seconds.is_some_and(|b| b.0.is_zero()) {
        out.push(Diagnostic::error(at("availability.backoff_seconds"), "must be more than 0 (a crash loop without a delay would spin)"));
    }

    for (field, probe) in [("readiness_probe", &p.readiness_probe), ("liveness_probe", &p.liveness_probe)] {
        if let Some(probe) = probe {
            validate_probe(out, &at(field), probe, p);
        }
    }
    if p.ready_log_line.as_deref() == Some("") {
        out.push(Diagnostic::error(at("ready_log_line"), "must not be empty"));
    }
    let readiness: Vec<&str> = [
        ("readiness_probe", p.readiness_probe.is_some()),
        ("ready_log_line", p.ready_log_line.is_some()),
        ("ready_notify", p.ready_notify),
        ("ready_fd", p.ready_fd.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, set)| set.then_some(k))
    .collect();
    if readiness.len() > 1 {
        out.push(Diagnostic::error(
            at(readiness[1]),
            format!("cannot be combined with {}: a process has one readiness check", readiness[0]),
        ));
    }
    crate::activation_rules::validate(out, name, p);

    let placeholders: [(&str, &Option<Value>, fn(&Value) -> bool); 2] = [
        ("replicas", &p.replicas, |v| v.as_u64() == Some(1)),
        ("env_file", &p.env_file, is_empty_value),
    ];
    for (field, value, harmless) in placeholders {
        if let Some(v) = value {
            if !harmless(v) {
                out.push(not_yet(&at(field), v));
            }
        }
    }
    for (field, value) in [("launch_timeout_seconds", &p.launch_timeout_seconds), ("is_dotenv_disabled", &p.is_dotenv_disabled)] {
        if value.is_some() {
            out.push(Diagnostic::note(at(field), "accepted for compatibility and ignored (it only matters for features corral does not have yet)"));
        }
    }
}

/// `process_healthy` needs a readiness_probe and `process_log_ready` a
/// ready_log_line on the dependency: otherwise the dependent would wait forever.
fn validate_readiness_dependencies(out: &mut Vec<Diagnostic>, config: &Config, name: &str, p: &Process) {
    for (dep, d) in &p.depends_on {
        let Some(target) = config.processes.get(dep) else { continue };
        let missing = match d.condition {
            Condition::ProcessHealthy if !has_health_check(target) => "readiness check (readiness_probe, ready_notify, ready_fd, ports or listen)",
            Condition::ProcessLogReady if target.ready_log_line.is_none() => "ready_log_line",
            _ => continue,
        };
        out.push(Diagnostic::error(
            format!("processes.{name}.depends_on.{dep}.condition"),
            format!("{} needs {dep} to have a {missing}, and it has none (it would never be met)", d.condition.as_str()),
        ));
    }
}

/// What makes a process "healthy": a probe, its own notification, or the TCP check
/// corral adds for a process with ports or listeners.
pub fn has_health_check(p: &Process) -> bool {
    p.readiness_probe.is_some() || p.ready_notify || p.ready_fd.is_some() || !p.ports.is_empty() || !p.listen.is_empty()
}

fn validate_probe(out: &mut Vec<Diagnostic>, path: &str, probe: &Probe, process: &Process) {
    let named_ports = [probe.http_get.as_ref().map(|h| (&h.port, "http_get")), probe.tcp_socket.as_ref().map(|t| (&t.port, "tcp_socket"))];
    for (port, kind) in named_ports.into_iter().flatten() {
        if let ProbePort::Named(n) = port {
            if !process.ports.contains_key(n) {
                out.push(Diagnostic::error(
                    format!("{path}.{kind}.port"),
                    format!("expected a port 1..65535 or the name of one of this process's ports, got {n:?}"),
                ));
            }
        }
    }
    let kinds = [probe.exec.is_some(), probe.http_get.is_some(), probe.tcp_socket.is_some()].iter().filter(|k| **k).count();
    if kinds != 1 {
        out.push(Diagnostic::error(path, format!("needs exactly one of exec, http_get, tcp_socket (got {kinds})")));
    }
    match probe.kind() {
        Some(ProbeKind::Exec(e)) if e.command.trim().is_empty() => {
            out.push(Diagnostic::error(format!("{path}.exec.command"), "must not be empty"));
        }
        Some(ProbeKind::HttpGet(h)) => {
            if h.scheme != "http" {
                out.push(Diagnostic::error(format!("{path}.http_get.scheme"), format!("expected \"http\", got {:?} (https probes are not supported yet)", h.scheme)));
            }
            if !h.path.starts_with('/') {
                out.push(Diagnostic::error(format!("{path}.http_get.path"), format!("expected a path starting with '/', got {:?}", h.path)));
            }
            if h.status_code.is_some_and(|c| !(100..=599).contains(&c)) {
                out.push(Diagnostic::error(format!("{path}.http_get.status_code"), format!("expected an HTTP status 100..599, got {}", h.status_code.unwrap())));
            }
        }
        _ => {}
    }
    for (field, value) in [("success_threshold", probe.success_threshold), ("failure_threshold", probe.failure_threshold)] {
        if value == 0 {
            out.push(Diagnostic::error(format!("{path}.{field}"), "must be at least 1"));
        }
    }
    for (field, value) in [("period_seconds", probe.period_seconds), ("timeout_seconds", probe.timeout_seconds)] {
        if value.0.is_zero() {
            out.push(Diagnostic::error(format!("{path}.{field}"), "must be more than 0"));
        }
    }
}

/// null, false, "", [], {}: a value that asks for nothing.
fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn not_yet(path: &str, value: &Value) -> Diagnostic {
    let mut shown = value.to_string();
    if shown.len() > 60 {
        let cut = (0..=60).rev().find(|&i| shown.is_char_boundary(i)).unwrap_or(0);
        shown.truncate(cut);
        shown.push('…');
    }
    Diagnostic::error(path, format!("not supported yet by this corral (got {shown}); remove it or wait for a release that runs it"))
}

/// `$$` was process-compose's escape for a literal `$`; corral passes text unchanged,
/// so in a shell it now means the shell's pid.
fn warn_double_dollar(out: &mut Vec<Diagnostic>, path: &str, text: &str) {
    if text.contains("$$") {
        out.push(Diagnostic::warning(
            path,
            "contains \"$$\": corral passes text to the shell unchanged, so this is the shell's pid, not process-compose's escape for \"$\"",
        ));
    }
}
