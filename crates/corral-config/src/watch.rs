//! `watch`: restart a process (or re-run a one-shot) when its files change.
//!
//! process-compose's form (`paths` of `{path, include, exclude}`, `cascade`,
//! `debounce`), plus plain path strings and devenv's `extensions` and `ignore`.

use std::fmt;
use std::time::Duration;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct Watch {
    /// What to watch: paths (relative to the project root), each a string or
    /// `{path, include, exclude}` with globs.
    #[serde(default)]
    pub paths: Vec<WatchPath>,
    /// Only files with these extensions trigger (devenv's `extensions`; "rs" or ".rs").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<String>,
    /// Globs of files that never trigger (devenv's `ignore`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
    /// Respect `.gitignore` files (default true).
    #[serde(default = "yes")]
    pub gitignore: bool,
    /// Also restart the processes that depend on this one, in dependency order.
    #[serde(default)]
    pub cascade: bool,
    /// How long changes must settle before acting (default "500ms").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debounce: Option<DurationText>,
    /// Do not skip `.git` directories and editor swap files by default.
    #[serde(default)]
    pub disable_default_excludes: bool,
}

fn yes() -> bool {
    true
}

/// A watched path: `"src"` or `{"path": "src", "include": ["*.rs"], "exclude": ["gen/**"]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct WatchPath {
    pub path: String,
    /// When set, only matching files trigger. A glob with '/' matches the path
    /// relative to `path`; one without matches the file name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Matching files never trigger.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

impl<'de> Deserialize<'de> for WatchPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WatchPath;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a path, or {\"path\", \"include\", \"exclude\"}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<WatchPath, E> {
                Ok(WatchPath { path: v.to_string(), include: vec![], exclude: vec![] })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<WatchPath, A::Error> {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Full {
                    path: String,
                    #[serde(default)]
                    include: Globs,
                    #[serde(default)]
                    exclude: Globs,
                }
                let f = Full::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(WatchPath { path: f.path, include: f.include.0, exclude: f.exclude.0 })
            }
        }
        d.deserialize_any(V)
    }
}

/// One glob or a list of them.
#[derive(Default)]
struct Globs(Vec<String>);

impl<'de> Deserialize<'de> for Globs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Globs;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a glob or a list of globs")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Globs, E> {
                Ok(Globs(vec![v.to_string()]))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Globs, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(Globs(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A duration written like "300ms", "2s", "1m"; a bare number means seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationText(pub Duration);

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        const EXPECTED: &str = "a duration like \"300ms\" or \"2s\"";
        impl Visitor<'_> for V {
            type Value = DurationText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DurationText, E> {
                humantime::parse_duration(v.trim()).map(DurationText).map_err(|_| E::custom(format!("expected {EXPECTED}, got {v:?}")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<DurationText, E> {
                if v.is_finite() && (0.0..=3600.0).contains(&v) {
                    Ok(DurationText(Duration::from_secs_f64(v)))
                } else {
                    Err(E::custom(format!("expected {EXPECTED}, got {v}")))
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<DurationText, E> {
                self.visit_f64(v as f64)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<DurationText, E> {
                self.visit_f64(v as f64)
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for DurationText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

impl JsonSchema for DurationText {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "oneOf": [ { "type": "string", "examples": ["300ms", "2s"] }, { "type": "number", "minimum": 0 } ] })
    }
}

impl Watch {
    pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(500);

    pub fn debounce(&self) -> Duration {
        self.debounce.map_or(Self::DEFAULT_DEBOUNCE, |d| d.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_strings_or_objects_and_durations() {
        let w: Watch = serde_json::from_str(r#"{"paths": ["src", {"path": "conf", "include": "*.toml", "exclude": ["tmp/**"]}], "debounce": "300ms", "extensions": ["rs"]}"#).unwrap();
        assert_eq!(w.paths[0], WatchPath { path: "src".into(), include: vec![], exclude: vec![] });
        assert_eq!(w.paths[1].include, ["*.toml"]);
        assert_eq!(w.debounce(), Duration::from_millis(300));
        assert!(w.gitignore && !w.cascade);
        assert!(serde_json::from_str::<Watch>(r#"{"debounce": "soon"}"#).unwrap_err().to_string().contains("expected a duration like \"300ms\""));
        assert!(serde_json::from_str::<Watch>(r#"{"paths": [{"path": "a", "includes": "x"}]}"#).is_err());
        assert_eq!(serde_json::from_str::<Watch>(r#"{"debounce": 2}"#).unwrap().debounce(), Duration::from_secs(2));
    }
}
