//! What a target cannot express, by field. Shared by every format so that the
//! CLI prints them one way and `--strict` treats them one way.

use std::fmt;

/// A field (dotted path, as in `corral check`) that the target cannot express, and
/// what happens to it instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub field: String,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Warnings in the order found, each field at most once per message.
#[derive(Debug, Default)]
pub struct Warnings(Vec<Warning>);

impl Warnings {
    pub(crate) fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        let w = Warning { field: field.into(), message: message.into() };
        if !self.0.contains(&w) {
            self.0.push(w);
        }
    }

    /// `processes.NAME.FIELD` (`processes.NAME` for the process itself, `field` empty).
    pub(crate) fn process(&mut self, name: &str, field: &str, message: impl Into<String>) {
        let path = if field.is_empty() { format!("processes.{name}") } else { format!("processes.{name}.{field}") };
        self.add(path, message);
    }

    pub fn into_vec(self) -> Vec<Warning> {
        self.0
    }
}
