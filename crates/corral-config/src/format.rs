//! The input formats, turned into one shape: a JSON value tree plus, for YAML,
//! where every node was written (line and column by field path).
//!
//! JSON is parsed by serde_json, whose errors carry line and column. YAML is
//! parsed by serde-saphyr into a tree of spanned nodes, so that any later error
//! (a type error found after merging files, a validation error, an undefined
//! template variable) can still name the line it concerns. serde-saphyr is
//! pure Rust (no unsafe, where serde_yaml's maintained forks wrap a C-to-Rust
//! translation of libyaml), rejects duplicate keys, and bounds alias expansion,
//! so a "billion laughs" file is an error, not an out-of-memory.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};
use serde_saphyr::Spanned;

use crate::diagnostic::LoadError;

/// Which parser reads a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    /// process-compose's format: load-time `$VAR` expansion, `.env` by default.
    Yaml,
}

impl Format {
    /// By file name: `.yaml` and `.yml` are YAML, anything else is JSON.
    pub fn of(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("yaml" | "yml") => Format::Yaml,
            _ => Format::Json,
        }
    }
}

/// Where each node of a file was written: dotted field path → (line, column), 1-based.
#[derive(Debug, Clone, Default)]
pub(crate) struct Lines(pub HashMap<String, (u64, u64)>);

/// One parsed file.
#[derive(Debug, Clone)]
pub(crate) struct Tree {
    pub file: PathBuf,
    pub value: Value,
    pub lines: Lines,
}

/// Parses YAML text into a located tree.
pub(crate) fn parse_yaml(text: &str, file: &Path) -> Result<Tree, LoadError> {
    // YAML 1.2 booleans (true/false), as process-compose's yaml.v3 reads an
    // untyped value: `y:` is a key named "y", `on` is a string.
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    let parsed: Result<Spanned<Node>, _> = serde_saphyr::from_str_with_options(text, options.clone());
    let root = match parsed {
        Ok(root) => root,
        Err(e) => {
            let path = duplicate_key_parent(&e, text, options).unwrap_or_default();
            return Err(yaml_error(&e, file, path));
        }
    };
    let mut lines = Lines::default();
    let value = into_value(root, &mut Vec::new(), &mut lines);
    if value.is_null() {
        // An empty document: process-compose reads it as an empty project.
        return Ok(Tree { file: file.to_path_buf(), value: Value::Object(Map::new()), lines });
    }
    Ok(Tree { file: file.to_path_buf(), value, lines })
}

/// For a duplicate key, the path of the mapping that holds it: parsed again
/// keeping the first of the two, the mapping is the latest one written before
/// the duplicate that starts in the duplicate's column.
fn duplicate_key_parent(e: &serde_saphyr::Error, text: &str, mut options: serde_saphyr::Options) -> Option<String> {
    if !e.without_snippet().to_string().contains("duplicate mapping key") {
        return None;
    }
    let at = e.location()?;
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::FirstWins;
    let root: Spanned<Node> = serde_saphyr::from_str_with_options(text, options).ok()?;
    let mut lines = Lines::default();
    let _ = into_value(root, &mut Vec::new(), &mut lines);
    lines
        .0
        .iter()
        .filter(|(_, (l, c))| *c == at.column() && *l < at.line())
        .max_by_key(|(p, (l, _))| (*l, p.len()))
        .map(|(p, _)| p.clone())
}

/// A serde-saphyr error as a [`LoadError::Parse`]: its message, without the source
/// snippet (corral's messages are one line), with the line and column.
pub(crate) fn yaml_error(e: &serde_saphyr::Error, file: &Path, path: String) -> LoadError {
    let mut message = e.without_snippet().to_string();
    // "error: line 4 column 3: duplicate mapping key: a, set DuplicateKeyPolicy …"
    if let Some(rest) = message.strip_prefix("error: ") {
        message = rest.to_string();
    }
    if let Some(cut) = message.find(", set DuplicateKeyPolicy") {
        let tail = message[cut..].find(" at line").map(|i| message[cut + i..].to_string()).unwrap_or_default();
        message = format!("{}{tail}", &message[..cut]).replace("duplicate mapping key: ", "a key is given twice: ");
    }
    if !message.contains("line ") {
        if let Some(l) = e.location() {
            message = format!("{message} at line {} column {}", l.line(), l.column());
        }
    }
    LoadError::Parse { file: file.to_path_buf(), path, message }
}

/// Parses JSON into a tree (no positions kept: JSON's own errors carry them).
pub(crate) fn parse_json(bytes: &[u8], file: &Path) -> Result<Tree, LoadError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| LoadError::Parse { file: file.to_path_buf(), path: String::new(), message: e.to_string() })?;
    Ok(Tree { file: file.to_path_buf(), value, lines: Lines::default() })
}

fn into_value(node: Spanned<Node>, path: &mut Vec<String>, lines: &mut Lines) -> Value {
    let at = node.referenced;
    lines.0.insert(crate::path::join(path), (at.line(), at.column()));
    match node.value {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Bool(b),
        Node::Int(i) => Value::from(i),
        Node::UInt(u) => Value::from(u),
        Node::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        Node::Str(s) => Value::String(s),
        Node::Seq(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, n)| {
                    path.push(i.to_string());
                    let v = into_value(n, path, lines);
                    path.pop();
                    v
                })
                .collect(),
        ),
        Node::Map(entries) => {
            let mut out = Map::new();
            for (k, n) in entries {
                path.push(k.clone());
                let v = into_value(n, path, lines);
                path.pop();
                out.insert(k, v);
            }
            Value::Object(out)
        }
    }
}

/// A YAML node as serde-saphyr gives it; children keep their positions.
enum Node {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(String, Spanned<Node>)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
                Node::deserialize(d)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
                Ok(Node::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
                Ok(Node::UInt(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
                Ok(Node::Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
                Ok(Node::Str(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
                Ok(Node::Str(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut out = Vec::new();
                while let Some(n) = seq.next_element::<Spanned<Node>>()? {
                    out.push(n);
                }
                Ok(Node::Seq(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<KeyText>()? {
                    let v = map.next_value::<Spanned<Node>>()?;
                    out.push((k.0, v));
                }
                Ok(Node::Map(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A mapping key as text (`1: x` has the key "1", as in process-compose).
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = KeyText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<KeyText, E> {
                Err(E::custom("a key must not be empty (null)"))
            }
        }
        d.deserialize_any(V)
    }
}

/// The `name` a config file sets, read without expanding or validating the rest
/// (client commands find their project with it while the config is being edited).
pub fn config_name(path: &Path) -> Option<String> {
    let bytes = crate::load::read_limited(path).ok()?;
    let value: Value = match Format::of(path) {
        Format::Json => serde_json::from_slice(&bytes).ok()?,
        Format::Yaml => parse_yaml(std::str::from_utf8(&bytes).ok()?, path).ok()?.value,
    };
    value.get("name")?.as_str().map(str::to_string)
}

impl Lines {
    /// Where `path` (or, failing that, its nearest ancestor) was written.
    pub fn find(&self, path: &[String]) -> Option<(u64, u64)> {
        (0..=path.len()).rev().find_map(|n| self.0.get(&crate::path::join(&path[..n])).copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_keeps_positions() {
        let t = parse_yaml("processes:\n  api:\n    command: run\n    environment:\n      - A=1\n", Path::new("x.yaml")).unwrap();
        assert_eq!(t.value["processes"]["api"]["command"], "run");
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(t.lines.find(&s(&["processes", "api", "command"])).unwrap().0, 3);
        assert_eq!(t.lines.find(&s(&["processes", "api", "environment", "0"])).unwrap().0, 5);
        assert_eq!(t.lines.find(&s(&["processes", "api", "nope", "deeper"])).unwrap().0, 3);
    }

    #[test]
    fn yaml_errors_have_lines() {
        let e = parse_yaml("processes:\n  a:\n    command: x\n  a:\n    command: y\n", Path::new("x.yaml")).unwrap_err().to_string();
        assert!(e.contains("a key is given twice: a") && e.contains("line 4"), "{e}");
        let e = parse_yaml("processes:\n  a:\n    command: [x\n", Path::new("x.yaml")).unwrap_err().to_string();
        assert!(e.contains("line 3"), "{e}");
    }
}
