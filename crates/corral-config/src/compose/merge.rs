//! process-compose's merge rules, on value trees: used for several `-f` files,
//! for a file's `extends`, and for a process's `extends`.
//!
//! process-compose merges with mergo (override, append slices): a later value
//! wins unless it is the zero value (`false`, `0`, `""`, null), so an override
//! file cannot turn `disabled: true` back off; objects merge key by key (probes,
//! `depends_on`, `availability`); lists are appended (`entrypoint`,
//! `success_exit_codes`), except `environment`, merged by variable name, and
//! `namespace` and watch paths, replaced as a whole.

use serde_json::{Map, Value};

/// Merges `src` over `dst` at `key` (the field's name, which picks the rule).
pub(crate) fn merge(dst: &mut Value, src: &Value, key: &str) {
    match (dst, src) {
        (d @ Value::Array(_), Value::Array(s)) if key == "environment" => {
            let merged = merge_env(d, &Value::Array(s.clone()));
            *d = merged;
        }
        (d, s) if key == "environment" && (d.is_object() || s.is_object()) => {
            let merged = merge_env(d, s);
            *d = merged;
        }
        (Value::Array(d), Value::Array(s)) => {
            if matches!(key, "namespace" | "paths") {
                if !s.is_empty() {
                    *d = s.clone();
                }
            } else {
                d.extend(s.iter().cloned());
            }
        }
        (Value::Object(d), Value::Object(s)) => merge_objects(d, s),
        (d, s) => {
            if !is_zero(s) {
                *d = s.clone();
            }
        }
    }
}

fn merge_objects(d: &mut Map<String, Value>, s: &Map<String, Value>) {
    for (k, v) in s {
        match d.get_mut(k) {
            Some(existing) => merge(existing, v, k),
            None => {
                d.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Go's zero values, which mergo never copies over a set value.
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// Environment entries by name, later winning; the result is a list of `NAME=value`.
fn merge_env(d: &Value, s: &Value) -> Value {
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in env_pairs(d).into_iter().chain(env_pairs(s)) {
        match out.iter_mut().find(|(name, _)| *name == k) {
            Some(slot) => slot.1 = v,
            None => out.push((k, v)),
        }
    }
    Value::Array(out.into_iter().map(|(k, v)| Value::String(format!("{k}={v}"))).collect())
}

/// The `(NAME, value)` pairs of an environment in either form; entries that are
/// not `NAME=value` are kept whole so the typed parse reports them.
pub(crate) fn env_pairs(v: &Value) -> Vec<(String, String)> {
    match v {
        Value::Array(items) => items
            .iter()
            .map(|i| match i.as_str() {
                Some(s) => match s.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (s.to_string(), String::new()),
                },
                None => (i.to_string(), String::new()),
            })
            .collect(),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| if v.is_null() { String::new() } else { v.to_string() })))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    fn merged(a: serde_json::Value, b: serde_json::Value) -> serde_json::Value {
        let mut a = a;
        super::merge(&mut a, &b, "");
        a
    }

    #[test]
    fn later_wins_unless_zero() {
        let m = merged(json!({"processes": {"a": {"command": "x", "disabled": true}}}), json!({"processes": {"a": {"command": "y", "disabled": false}, "b": {"command": "z"}}}));
        assert_eq!(m, json!({"processes": {"a": {"command": "y", "disabled": true}, "b": {"command": "z"}}}));
    }

    #[test]
    fn lists_append_environment_merges_namespace_replaces() {
        let m = merged(
            json!({"environment": ["A=1", "B=2"], "processes": {"a": {"entrypoint": ["x"], "namespace": ["n1"], "depends_on": {"b": {}}}}}),
            json!({"environment": ["B=3", "C=4"], "processes": {"a": {"entrypoint": ["y"], "namespace": ["n2"], "depends_on": {"c": {}}}}}),
        );
        assert_eq!(m["environment"], json!(["A=1", "B=3", "C=4"]));
        assert_eq!(m["processes"]["a"]["entrypoint"], json!(["x", "y"]));
        assert_eq!(m["processes"]["a"]["namespace"], json!(["n2"]));
        assert_eq!(m["processes"]["a"]["depends_on"], json!({"b": {}, "c": {}}));
    }
}
