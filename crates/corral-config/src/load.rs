//! Reading a config file: JSON → [`Config`], with field paths on every error,
//! unknown keys collected, then validation.

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

/// Reads, parses and validates the config at `file`.
pub fn load_file(file: &Path) -> Result<Loaded, LoadError> {
    let read_err = |source| LoadError::Read { file: file.to_path_buf(), source };
    let meta = std::fs::metadata(file).map_err(read_err)?;
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(LoadError::Parse {
            file: file.to_path_buf(),
            path: String::new(),
            message: format!("file is {} bytes, more than the limit of {MAX_CONFIG_BYTES}", meta.len()),
        });
    }
    let bytes = std::fs::read(file).map_err(read_err)?;
    load_bytes(&bytes, file)
}

/// Parses and validates `bytes`; `file` is only used in messages.
pub fn load_bytes(bytes: &[u8], file: &Path) -> Result<Loaded, LoadError> {
    let file = file.to_path_buf();
    let (config, unknown) = parse(bytes, &file)?;

    let mut diagnostics: Vec<Diagnostic> = unknown
        .iter()
        .filter_map(|segs| crate::keys::classify(segs, config.is_strict))
        .collect();
    diagnostics.extend(crate::validate::validate(&config));
    let graph = match DepGraph::build(&config) {
        Ok(g) => Some(g),
        Err(errs) => {
            diagnostics.extend(errs);
            None
        }
    };

    let has_errors = diagnostics.iter().any(|d| d.severity == Severity::Error);
    match graph {
        Some(graph) if !has_errors => Ok(Loaded { config, graph, diagnostics }),
        _ => {
            diagnostics.sort_by(|a, b| b.severity.cmp(&a.severity));
            Err(LoadError::Invalid { file, diagnostics })
        }
    }
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
