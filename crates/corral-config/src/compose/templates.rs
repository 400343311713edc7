//! `vars` and their templates: process-compose renders `{{.NAME}}` in a
//! process's command, working_dir, log_location, description, environment
//! values and probe fields with Go's text/template, from the global `vars`,
//! the process's own `vars` (which win) and `PC_REPLICA_NUM`.
//!
//! corral renders the form real files use, `{{.NAME}}` (spaces and `-` trim
//! markers allowed); any other template action is an error naming it, and so is
//! a name that is in no `vars` (Go would print "<no value>" and run the command).

use serde_json::{Map, Value};

/// Fields rendered, as paths inside a process.
const RENDERED: &[&[&str]] = &[
    &["command"],
    &["working_dir"],
    &["log_location"],
    &["description"],
    &["readiness_probe", "exec", "command"],
    &["liveness_probe", "exec", "command"],
    &["readiness_probe", "http_get", "path"],
    &["readiness_probe", "http_get", "host"],
    &["readiness_probe", "http_get", "scheme"],
    &["readiness_probe", "http_get", "port"],
    &["liveness_probe", "http_get", "path"],
    &["liveness_probe", "http_get", "host"],
    &["liveness_probe", "http_get", "scheme"],
    &["liveness_probe", "http_get", "port"],
];

/// Renders one process's templates in place. The error is `(field path inside the process, message)`.
pub(crate) fn render_process(process: &mut Map<String, Value>, vars: &Map<String, Value>) -> Result<(), (Vec<String>, String)> {
    let command_disabled = process.get("is_template_disabled").and_then(Value::as_bool).unwrap_or(false);
    for path in RENDERED {
        if command_disabled && path == &["command"] {
            continue;
        }
        let Some(Value::String(text)) = get_mut(process, path) else { continue };
        let rendered = render(text, vars).map_err(|m| (path.iter().map(|s| s.to_string()).collect::<Vec<_>>(), m))?;
        *text = rendered;
    }
    match process.get_mut("environment") {
        Some(Value::Array(items)) => {
            for (i, item) in items.iter_mut().enumerate() {
                if let Value::String(text) = item {
                    *text = render(text, vars).map_err(|m| (vec!["environment".into(), i.to_string()], m))?;
                }
            }
        }
        Some(Value::Object(map)) => {
            for (k, item) in map.iter_mut() {
                if let Value::String(text) = item {
                    *text = render(text, vars).map_err(|m| (vec!["environment".into(), k.clone()], m))?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn get_mut<'a>(map: &'a mut Map<String, Value>, path: &[&str]) -> Option<&'a mut Value> {
    let (first, rest) = path.split_first()?;
    let v = map.get_mut(*first)?;
    if rest.is_empty() {
        return Some(v);
    }
    get_mut(v.as_object_mut()?, rest)
}

/// Renders `{{.NAME}}` in `text`.
pub(crate) fn render(text: &str, vars: &Map<String, Value>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| format!("template \"{}\" has no closing \"}}}}\"", clip(&rest[start..])))?;
        let action = after[..end].trim_start_matches('-').trim_end_matches('-').trim();
        let name = action.strip_prefix('.').filter(|n| !n.is_empty() && n.chars().all(|c| c.is_alphanumeric() || c == '_'));
        let Some(name) = name else {
            return Err(format!(
                "template action \"{{{{{}}}}}\" is not supported: corral renders {{{{.NAME}}}} from vars (set is_template_disabled: true to pass the command unchanged)",
                clip(&after[..end])
            ));
        };
        let value = vars.get(name).ok_or_else(|| {
            let mut known: Vec<&str> = vars.keys().map(String::as_str).collect();
            known.sort();
            format!("template names {{{{.{name}}}}}, which is not in vars (defined: {})", known.join(", "))
        })?;
        match value {
            Value::String(s) => out.push_str(s),
            Value::Null => return Err(format!("var {name} is null")),
            other => out.push_str(&other.to_string()),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn clip(s: &str) -> String {
    s.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn renders_names_and_rejects_the_rest() {
        let vars = json!({"PORT": 8080, "HOST": "db", "PC_REPLICA_NUM": 2}).as_object().unwrap().clone();
        assert_eq!(super::render("serve {{.HOST}}:{{ .PORT }} #{{- .PC_REPLICA_NUM -}}", &vars).unwrap(), "serve db:8080 #2");
        assert!(super::render("{{.NOPE}}", &vars).unwrap_err().contains("{{.NOPE}}, which is not in vars (defined: HOST, PC_REPLICA_NUM, PORT)"));
        assert!(super::render("{{ if .X }}", &vars).unwrap_err().contains("not supported"));
        assert!(super::render("{{.HOST", &vars).is_err());
        assert_eq!(super::render("no templates", &vars).unwrap(), "no templates");
    }
}
