//! Selection as process-compose's command line does it: processes named on the
//! command line, `-n/--namespace` (repeatable), and `--no-deps`.
//!
//! The result is the list of names the plan starts from (their dependencies
//! come along unless `--no-deps` cut them off), so the plan's own rules stay
//! the only ones: a named process runs even if disabled; a process picked by
//! its namespace does not when it is disabled, as in process-compose.

use crate::graph::DepGraph;
use crate::load::Loaded;

/// Narrows `loaded` to a selection; returns the names to plan from (empty: all).
pub fn select(loaded: &mut Loaded, names: &[String], namespaces: &[String], no_deps: bool) -> Result<Vec<String>, String> {
    let config = &loaded.config;
    let mut chosen: Vec<String> = Vec::new();
    for n in names {
        if config.processes.contains_key(n) {
            chosen.push(n.clone());
            continue;
        }
        // A replicated process is named by the name it was written with: all its replicas.
        let replicas: Vec<String> = config.processes.keys().filter(|k| is_replica_of(k, n)).cloned().collect();
        if replicas.is_empty() {
            let known: Vec<&str> = config.processes.keys().map(String::as_str).collect();
            return Err(format!("unknown process {n:?} (known: {})", known.join(", ")));
        }
        chosen.extend(replicas);
    }
    if !namespaces.is_empty() {
        let mut known: Vec<&str> = config.processes.values().flat_map(|p| p.namespace.0.iter().map(String::as_str)).collect();
        known.sort();
        known.dedup();
        for ns in namespaces {
            if !known.contains(&ns.as_str()) {
                return Err(format!("no process is in namespace {ns:?} (namespaces: {})", known.join(", ")));
            }
        }
        for (name, p) in &config.processes {
            if !p.disabled && p.namespace.0.iter().any(|n| namespaces.contains(n)) && !chosen.contains(name) {
                chosen.push(name.clone());
            }
        }
        if chosen.is_empty() {
            return Err(format!("every process in namespace(s) {} is disabled", namespaces.join(", ")));
        }
    }
    if no_deps {
        let cut: Vec<String> = if chosen.is_empty() { loaded.config.processes.keys().cloned().collect() } else { chosen.clone() };
        for name in &cut {
            if let Some(p) = loaded.config.processes.get_mut(name) {
                p.depends_on.clear();
            }
        }
        loaded.graph = DepGraph::build(&loaded.config).map_err(|e| e.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("; "))?;
    }
    Ok(chosen)
}

/// `api-03` is a replica of `api`.
fn is_replica_of(name: &str, base: &str) -> bool {
    name.strip_prefix(base).and_then(|r| r.strip_prefix('-')).is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn loaded() -> crate::Loaded {
        let json = r#"{"processes": {
            "db": {"command": "x", "namespace": "data"},
            "cache": {"command": "x", "namespace": ["data", "fast"], "disabled": true},
            "api": {"command": "x", "depends_on": {"db": {}}},
            "web": {"command": "x", "namespace": "front", "depends_on": {"api": {}}}
        }}"#;
        crate::load_bytes(json.as_bytes(), Path::new("t.json")).unwrap()
    }

    #[test]
    fn namespaces_pick_enabled_processes() {
        let mut l = loaded();
        assert_eq!(super::select(&mut l, &[], &["data".into()], false).unwrap(), ["db"]);
        assert_eq!(super::select(&mut l, &["cache".into()], &["front".into()], false).unwrap(), ["cache", "web"]);
        assert!(super::select(&mut l, &[], &["nope".into()], false).unwrap_err().contains("namespaces: data, default, fast, front"));
        assert!(super::select(&mut l, &[], &["fast".into()], false).unwrap_err().contains("disabled"));
        assert!(super::select(&mut l, &["zz".into()], &[], false).unwrap_err().contains("unknown process \"zz\""));
    }

    #[test]
    fn no_deps_cuts_dependencies_of_the_selection() {
        let mut l = loaded();
        assert_eq!(super::select(&mut l, &["web".into()], &[], true).unwrap(), ["web"]);
        assert!(l.config.processes["web"].depends_on.is_empty());
        assert!(!l.config.processes["api"].depends_on.is_empty());
        let web = l.graph.index_of("web").unwrap();
        assert_eq!(l.graph.closure(&[web]).len(), 1);
    }
}
