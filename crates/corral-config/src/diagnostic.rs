//! Problems found in a config, each tied to the field path it concerns.

use std::fmt;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Informational: a field that is accepted but does nothing in corral.
    Note,
    /// Worth fixing, but the run can go ahead.
    Warning,
    /// The config cannot be run.
    Error,
}

/// One problem: `path: message`, for example
/// `processes.api.shutdown.signal: expected 1..31 or a name like "SIGTERM", got 99`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Dotted field path (`processes.api.depends_on.db`); empty for the whole file.
    pub path: String,
    pub message: String,
}

impl Diagnostic {
    pub fn error(path: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Error, path: path.into(), message: message.into() }
    }
    pub fn warning(path: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, path: path.into(), message: message.into() }
    }
    pub fn note(path: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Note, path: path.into(), message: message.into() }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&clip(&self.message))
        } else {
            write!(f, "{}: {}", clip(&self.path), clip(&self.message))
        }
    }
}

/// Longest path or message shown: a bad value may be megabytes long, and an
/// error that repeats it whole helps no one.
const SHOWN: usize = 300;

/// `text`, cut to [`SHOWN`] characters with a note of how long it was.
pub fn clip(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(SHOWN) {
        None => text.into(),
        Some((cut, _)) => format!("{}… ({} bytes in all)", &text[..cut], text.len()).into(),
    }
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {}: {source}", file.display())]
    Read { file: PathBuf, source: std::io::Error },

    /// The file is not JSON, or a field has the wrong type or value.
    #[error("{}: {}", file.display(), if path.is_empty() { clip(message).into_owned() } else { format!("{}: {}", clip(path), clip(message)) })]
    Parse { file: PathBuf, path: String, message: String },

    /// The file parsed, but validation found errors. `diagnostics` holds every
    /// problem found, warnings included, errors first.
    #[error("{}: {}", file.display(), first_error(diagnostics))]
    Invalid { file: PathBuf, diagnostics: Vec<Diagnostic> },
}

fn first_error(d: &[Diagnostic]) -> String {
    let errors: Vec<_> = d.iter().filter(|d| d.severity == Severity::Error).collect();
    match errors.as_slice() {
        [] => "invalid".to_string(),
        [one] => one.to_string(),
        [first, rest @ ..] => format!("{first} (and {} more)", rest.len()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_values_are_clipped() {
        let d = super::Diagnostic::error("processes.a", format!("got {}", "x".repeat(10_000)));
        let shown = d.to_string();
        assert!(shown.len() < 400 && shown.ends_with("(10004 bytes in all)"), "{shown}");
    }
}
