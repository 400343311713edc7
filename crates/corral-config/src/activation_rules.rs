//! Validation of the systemd-style fields (see [`crate::activation`]).

use std::collections::BTreeSet;

use crate::activation::port_env_name;
use crate::diagnostic::Diagnostic;
use crate::model::Process;

pub(crate) fn validate(out: &mut Vec<Diagnostic>, name: &str, p: &Process) {
    let at = |field: &str| format!("processes.{name}.{field}");
    if let Some(w) = &p.watchdog {
        if w.timeout_seconds.0.is_zero() {
            out.push(Diagnostic::error(at("watchdog.timeout_seconds"), "must be more than 0"));
        }
    }
    let mut names = BTreeSet::new();
    for (i, l) in p.listen.iter().enumerate() {
        let path = at(&format!("listen[{i}]"));
        if l.name.is_empty() || l.name.contains(':') || l.name.chars().any(|c| c.is_control() || c.is_whitespace()) {
            out.push(Diagnostic::error(format!("{path}.name"), format!("expected a name without ':' or spaces (it goes into LISTEN_FDNAMES), got {:?}", l.name)));
        } else if !names.insert(l.name.as_str()) {
            out.push(Diagnostic::error(format!("{path}.name"), format!("{:?} names two listeners of this process", l.name)));
        }
        let kinds = [l.tcp.is_some(), l.udp.is_some(), l.unix_stream.is_some()].iter().filter(|k| **k).count();
        if kinds != 1 {
            out.push(Diagnostic::error(path.clone(), format!("needs exactly one of tcp, udp, unix_stream (got {kinds})")));
        } else if l.kind().is_none() {
            let (field, addr) = if let Some(a) = &l.tcp { ("tcp", a) } else { ("udp", l.udp.as_ref().unwrap()) };
            out.push(Diagnostic::error(format!("{path}.{field}"), format!("expected an address like \"127.0.0.1:8080\" or \"[::1]:8080\", got {addr:?}")));
        }
        if l.mode.is_some() && l.unix_stream.is_none() {
            out.push(Diagnostic::error(format!("{path}.mode"), "only applies to unix_stream listeners"));
        }
    }
    if let Some(fd) = p.ready_fd {
        let first_free = 3 + p.listen.len() as u32;
        if fd < first_free || fd > 1023 {
            out.push(Diagnostic::error(
                at("ready_fd"),
                format!("expected an fd from {first_free} to 1023 (0-2 are stdio, 3..{first_free} the listeners), got {fd}"),
            ));
        }
    }
    if let Some(w) = &p.watch {
        validate_watch(out, name, w);
    }
    let mut vars = BTreeSet::new();
    for port in p.ports.keys() {
        if port.is_empty() || !port.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            out.push(Diagnostic::error(at(&format!("ports.{port}")), format!("expected a name of letters, digits, '_' or '-', got {port:?}")));
        } else if !vars.insert(port_env_name(name, port)) {
            out.push(Diagnostic::error(at(&format!("ports.{port}")), format!("{} is also the variable of another port", port_env_name(name, port))));
        }
    }
}

fn validate_watch(out: &mut Vec<Diagnostic>, name: &str, w: &crate::watch::Watch) {
    let at = |field: &str| format!("processes.{name}.watch.{field}");
    if w.paths.is_empty() {
        out.push(Diagnostic::error(at("paths"), "list at least one path to watch"));
    }
    let mut check_glob = |path: String, g: &str| {
        if let Err(e) = globset::Glob::new(g) {
            out.push(Diagnostic::error(path, format!("invalid glob {g:?}: {}", e.kind())));
        }
    };
    for (i, p) in w.paths.iter().enumerate() {
        for (field, globs) in [("include", &p.include), ("exclude", &p.exclude)] {
            for (j, g) in globs.iter().enumerate() {
                check_glob(at(&format!("paths[{i}].{field}[{j}]")), g);
            }
        }
    }
    for (j, g) in w.ignore.iter().enumerate() {
        check_glob(at(&format!("ignore[{j}]")), g);
    }
    for (i, p) in w.paths.iter().enumerate() {
        if p.path.is_empty() {
            out.push(Diagnostic::error(at(&format!("paths[{i}]")), "must not be empty (use \".\" for the project root)"));
        }
    }
}
