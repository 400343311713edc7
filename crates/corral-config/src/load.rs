//! Reading a config file: JSON or YAML → [`Config`], with field paths on every
//! error, unknown keys collected, then validation.
//!
//! A single JSON file that uses none of process-compose's file-level features
//! is read directly (serde_json's errors carry line and column); everything
//! else (YAML, several files, `extends`, `vars`, `env_cmds`, `env_file`,
//! `replicas`, `--env`) goes through [`crate::compose`], which ends in
//! [`finish_value`]: the same typed parse, validation and graph.

use std::path::{Path, PathBuf};

use crate::diagnostic::{Diagnostic, LoadError, Severity};
use crate::graph::DepGraph;
use crate::model::Config;

/// A config that loaded and validated, with the warnings and notes found on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub graph: DepGraph,
    /// Warnings and notes (never errors), in the order found.
    pub diagnostics: Vec<Diagnostic>,
}

/// Largest config file accepted. A process set is kilobytes; a bigger file is a
/// mistake (or an attack on a shared machine) and would only waste memory.
pub const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// The bytes an editor may put first in a UTF-8 file.
pub(crate) const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Reads, parses and validates the config at `file` (JSON, or YAML by its
/// extension), with default options: the project directory is the current one.
pub fn load_file(file: &Path) -> Result<Loaded, LoadError> {
    let root = std::env::current_dir().unwrap_or_default();
    load(&crate::compose::LoadOptions::new(vec![file.to_path_buf()], root))
}

/// Loads what `opts` names: one JSON file directly, anything else through the
/// process-compose pipeline.
pub fn load(opts: &crate::compose::LoadOptions) -> Result<Loaded, LoadError> {
    if let [file] = opts.files.as_slice() {
        let disabling = std::env::var_os("PC_DISABLED_PROCESSES").is_some_and(|v| !v.is_empty());
        if crate::format::Format::of(file) == crate::format::Format::Json && opts.env_files.is_none() && !disabling {
            let bytes = read_limited(file)?;
            let plain = serde_json::from_slice::<serde_json::Value>(&bytes).map(|v| !uses_compose_features(&v)).unwrap_or(true);
            if plain {
                return load_bytes(&bytes, file);
            }
        }
    }
    crate::compose::load(opts)
}

/// Whether a JSON config uses what only the process-compose pipeline does.
fn uses_compose_features(v: &serde_json::Value) -> bool {
    let set = |v: Option<&serde_json::Value>| v.is_some_and(|v| !v.is_null());
    let top = ["extends", "vars", "env_cmds"].into_iter().chain(crate::compose::UNSUPPORTED_TOP_KEYS.iter().map(|(k, _)| *k));
    let process = || {
        ["extends", "vars", "env_file", "replicas", "is_disabled", "is_dotenv_disabled", "is_template_disabled"]
            .into_iter()
            .chain(crate::compose::UNSUPPORTED_PROCESS_KEYS.iter().map(|(k, _)| *k))
    };
    top.into_iter().any(|k| set(v.get(k)))
        || v.get("processes").and_then(|p| p.as_object()).is_some_and(|ps| ps.values().any(|p| process().any(|k| set(p.get(k)))))
}

/// The bytes of `file`, refusing anything over [`MAX_CONFIG_BYTES`].
pub(crate) fn read_limited(file: &Path) -> Result<Vec<u8>, LoadError> {
    use std::io::Read;
    let read_err = |source| LoadError::Read { file: file.to_path_buf(), source };
    // A FIFO would block the open itself: look first (only regular files are configs).
    let meta = std::fs::metadata(file).map_err(read_err)?;
    if !meta.is_file() {
        return Err(read_err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file")));
    }
    let f = std::fs::File::open(file).map_err(read_err)?;
    let meta = f.metadata().map_err(read_err)?;
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(LoadError::Parse {
            file: file.to_path_buf(),
            path: String::new(),
            message: format!("file is {} bytes, more than the limit of {MAX_CONFIG_BYTES}", meta.len()),
        });
    }
    let mut bytes = Vec::new();
    f.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes).map_err(read_err)?;
    Ok(bytes)
}

/// The typed parse of JSON bytes, for its errors only.
pub(crate) fn parse_json_typed(bytes: &[u8], file: &Path) -> Result<(), LoadError> {
    parse(bytes, &file.to_path_buf()).map(|_| ())
}

/// Where a field path was written: `(file, line, column)`.
pub(crate) type Locate<'a> = &'a dyn Fn(&[String]) -> Option<(PathBuf, u64, u64)>;

/// The typed parse of a merged value tree, then validation and the graph; every
/// error and warning gets the position `locate` finds for its path.
pub(crate) fn finish_value(value: serde_json::Value, file: &Path, locate: Locate) -> Result<Loaded, LoadError> {
    let mut unknown = Vec::new();
    let result: Result<Config, _> = {
        let mut record = |p: serde_ignored::Path<'_>| unknown.push(crate::path::from_ignored(&p));
        let ignoring = serde_ignored::Deserializer::new(value, &mut record);
        serde_path_to_error::deserialize(ignoring)
    };
    let config = result.map_err(|e| {
        let segs = crate::path::segments_from_serde(e.path());
        let message = tidy_serde_message(&e.inner().to_string());
        match locate(&segs) {
            Some((f, l, c)) => LoadError::Parse { file: f, path: crate::path::join(&segs), message: format!("{message} at line {l} column {c}") },
            None => LoadError::Parse { file: file.to_path_buf(), path: crate::path::join(&segs), message },
        }
    })?;
    let mut diagnostics: Vec<Diagnostic> = unknown.iter().filter_map(|segs| crate::keys::classify(segs, config.is_strict)).collect();
    let (graph, mut rest) = check(&config);
    diagnostics.append(&mut rest);
    for d in diagnostics.iter_mut() {
        let segs: Vec<String> = d.path.split('.').map(str::to_string).collect();
        if let Some((f, l, c)) = locate(&segs) {
            if f == file {
                d.message = format!("{} (line {l} column {c})", d.message);
            } else {
                d.message = format!("{} ({} line {l} column {c})", d.message, f.display());
            }
        }
    }
    conclude(config, graph, diagnostics, file.to_path_buf())
}

/// Validation and the dependency graph.
fn check(config: &Config) -> (Option<DepGraph>, Vec<Diagnostic>) {
    let mut diagnostics = crate::validate::validate(config);
    let graph = match DepGraph::build(config) {
        Ok(g) => Some(g),
        Err(errs) => {
            diagnostics.extend(errs);
            None
        }
    };
    (graph, diagnostics)
}

fn conclude(config: Config, graph: Option<DepGraph>, mut diagnostics: Vec<Diagnostic>, file: PathBuf) -> Result<Loaded, LoadError> {
    let has_errors = diagnostics.iter().any(|d| d.severity == Severity::Error);
    match graph {
        Some(graph) if !has_errors => Ok(Loaded { config, graph, diagnostics }),
        _ => {
            diagnostics.sort_by_key(|d| std::cmp::Reverse(d.severity));
            Err(LoadError::Invalid { file, diagnostics })
        }
    }
}

/// Parses and validates `bytes`; `file` is only used in messages.
pub fn load_bytes(bytes: &[u8], file: &Path) -> Result<Loaded, LoadError> {
    let file = file.to_path_buf();
    let (config, unknown) = parse(bytes, &file)?;

    let mut diagnostics: Vec<Diagnostic> = unknown
        .iter()
        .filter_map(|segs| crate::keys::classify(segs, config.is_strict))
        .collect();
    let (graph, mut rest) = check(&config);
    diagnostics.append(&mut rest);
    conclude(config, graph, diagnostics, file)
}

fn parse(bytes: &[u8], file: &PathBuf) -> Result<(Config, Vec<Vec<String>>), LoadError> {
    if bytes.starts_with(UTF8_BOM) {
        return Err(LoadError::Parse {
            file: file.clone(),
            path: String::new(),
            message: "the file starts with a UTF-8 byte order mark (BOM), which JSON does not allow: save it without one".into(),
        });
    }
    let mut unknown = Vec::new();
    let mut json = serde_json::Deserializer::from_slice(bytes);
    let result: Result<Config, _> = {
        let mut record = |p: serde_ignored::Path<'_>| unknown.push(crate::path::from_ignored(&p));
        let ignoring = serde_ignored::Deserializer::new(&mut json, &mut record);
        serde_path_to_error::deserialize(ignoring)
    };
    let config = result.map_err(|e| LoadError::Parse {
        file: file.clone(),
        path: crate::path::from_serde(e.path()),
        message: tidy_serde_message(&e.inner().to_string()),
    })?;
    json.end().map_err(|e| LoadError::Parse { file: file.clone(), path: String::new(), message: e.to_string() })?;
    Ok((config, unknown))
}

/// serde's messages name Rust types (`u32`, `struct Process`); say what a user wrote instead.
fn tidy_serde_message(msg: &str) -> String {
    msg.replace("struct Config", "an object")
        .replace("struct Process", "an object")
        .replace("struct Shell", "an object")
        .replace("struct Availability", "an object")
        .replace("struct Shutdown", "an object")
        .replace("struct Dependency", "an object")
        .replace("a sequence", "a list")
        .replace("u32", "a non-negative integer")
}
