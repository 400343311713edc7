//! What to say about keys that the serde model does not know.
//!
//! process-compose has fields that only tune its own TUI, server or logger; they
//! are accepted as no-ops (a note). `x-*` keys are extension points and always
//! allowed. Anything else is unknown: a warning, or an error under `is_strict`.

use crate::diagnostic::{Diagnostic, Severity};

/// Top-level keys of process-compose that do nothing in corral.
const TOP_LEVEL_NO_OPS: &[(&str, &str)] = &[
    ("log_level", "corral's own log level is set with -v/-q or CORRAL_LOG"),
    ("log_length", "corral has no in-memory log view yet"),
    ("is_tui_disabled", "corral has no TUI"),
    ("disable_ansi_colors", "corral colours only on a terminal and honours NO_COLOR"),
    ("ordered_shutdown", "corral always stops in reverse dependency order"),
    ("log_format", "corral's own log goes to stderr as plain lines"),
];

/// Keys of process-compose's `shell` that do nothing in corral.
const SHELL_NO_OPS: &[(&str, &str)] = &[
    ("elevated_shell_cmd", "corral does not elevate processes"),
    ("elevated_shell_arg", "corral does not elevate processes"),
];

/// Per-process keys of process-compose that do nothing in corral.
const PROCESS_NO_OPS: &[(&str, &str)] = &[
    ("name", "a process's name is its key under processes"),
    ("disable_ansi_colors", "corral passes output through unchanged"),
];

/// Keys of process-compose's `log_configuration` (beside `rotation`, which corral
/// honours) that shape its own log records.
const LOGGER_NO_OPS: &[&str] = &["fields_order", "disable_json", "timestamp_format", "no_color", "no_metadata", "add_timestamp", "flush_each_line"];

/// One key the model did not know, as a list of path segments.
pub(crate) fn classify(segments: &[String], is_strict: bool) -> Option<Diagnostic> {
    let path = crate::path::join(segments);
    let key = segments.last().map(String::as_str).unwrap_or("");
    if key.starts_with("x-") {
        return None;
    }
    let no_op = match segments {
        [top] => TOP_LEVEL_NO_OPS.iter().find(|(k, _)| k == top),
        [first, _, field] if first == "processes" => PROCESS_NO_OPS.iter().find(|(k, _)| k == field),
        [first, field] if first == "shell" => SHELL_NO_OPS.iter().find(|(k, _)| k == field),
        [.., parent, field] if parent == "log_configuration" && LOGGER_NO_OPS.contains(&field.as_str()) => {
            Some(&("log_configuration", "corral writes each line as the process wrote it, with no record format"))
        }
        [.., grandparent, parent, field] if grandparent == "log_configuration" && parent == "rotation" && (field == "directory" || field == "filename") => {
            Some(&("rotation", "the rotated file is log_location itself; its backups go beside it"))
        }
        _ => None,
    };
    if let Some((_, why)) = no_op {
        return Some(Diagnostic::note(path, format!("accepted for compatibility and ignored ({why})")));
    }
    let severity = if is_strict { Severity::Error } else { Severity::Warning };
    let suffix = if is_strict { " (is_strict is set)" } else { "" };
    Some(Diagnostic { severity, path, message: format!("unknown key{suffix}") })
}
