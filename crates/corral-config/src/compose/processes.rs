//! The steps that rewrite the merged tree's processes, in process-compose's
//! order: `extends`, `is_disabled`, `replicas`, templates, environment; then
//! the keys corral does not run are refused by name.

use serde_json::{Map, Value};

use super::{environment, merge, templates, Pass};
use crate::diagnostic::{Diagnostic, LoadError};

/// Largest `replicas`: more is a typo (and a fork bomb), not a plan.
pub const MAX_REPLICAS: u64 = 1000;
/// Most replicas in one config, all processes together.
const MAX_TOTAL_REPLICAS: u64 = 10_000;

fn segs(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

fn processes(root: &mut Map<String, Value>) -> Option<&mut Map<String, Value>> {
    root.get_mut("processes").and_then(Value::as_object_mut)
}

/// Process-level `extends: NAME`: the named process's settings, with this
/// process's own winning (the merge rules of override files). Chains resolve;
/// an unknown name, a process extending itself and cycles are errors.
pub(crate) fn resolve_extends(pass: &mut Pass, root: &mut Map<String, Value>) -> Result<(), LoadError> {
    let Some(procs) = processes(root) else { return Ok(()) };
    let names: Vec<String> = procs.keys().cloned().collect();
    let mut done: std::collections::HashSet<String> = std::collections::HashSet::new();
    for name in &names {
        // Walk up the chain (iteratively: a chain may be as long as the file allows)
        // until a process that is resolved or extends nothing, then resolve downwards.
        let mut chain: Vec<String> = Vec::new();
        let mut current = name.clone();
        loop {
            if done.contains(&current) {
                break;
            }
            let at = segs(&["processes", &current, "extends"]);
            let parent = match procs.get(&current).and_then(|p| p.get("extends")) {
                None | Some(Value::Null) => {
                    done.insert(current.clone());
                    break;
                }
                Some(Value::String(p)) if !p.is_empty() => p.clone(),
                Some(other) => return Err(pass.error(&at, format!("expected the name of another process, got {other}"))),
            };
            if parent == current {
                return Err(pass.error(&at, format!("process {current:?} cannot extend itself")));
            }
            if let Some(from) = chain.iter().position(|c| *c == parent) {
                let mut cycle = chain[from..].to_vec();
                cycle.push(current.clone());
                cycle.push(parent.clone());
                return Err(pass.error(&at, format!("extends cycle: {}", cycle.join(" -> "))));
            }
            if !procs.contains_key(&parent) {
                let mut known: Vec<&str> = procs.keys().map(String::as_str).collect();
                known.sort();
                return Err(pass.error(&at, format!("extends unknown process {parent:?} (known: {})", known.join(", "))));
            }
            chain.push(current);
            current = parent;
        }
        for child_name in chain.into_iter().rev() {
            let parent = procs[&child_name]["extends"].as_str().expect("checked above").to_string();
            let mut base = procs[&parent].clone();
            if let Some(b) = base.as_object_mut() {
                b.remove("extends");
            }
            let mut child = procs[&child_name].clone();
            if let Some(c) = child.as_object_mut() {
                c.remove("extends");
            }
            merge::merge(&mut base, &child, "");
            procs.insert(child_name.clone(), base);
            done.insert(child_name);
        }
    }
    Ok(())
}

/// `is_disabled: "true"` (a string, so it can come from `$VAR`) sets `disabled`;
/// `$PC_DISABLED_PROCESSES` (comma-separated names) disables processes too.
pub(crate) fn honour_selection_keys(pass: &mut Pass, root: &mut Map<String, Value>) -> Result<(), LoadError> {
    let from_env: Vec<String> = std::env::var("PC_DISABLED_PROCESSES").map(|v| v.split(',').map(|s| s.trim().to_string()).collect()).unwrap_or_default();
    let Some(procs) = processes(root) else { return Ok(()) };
    for (name, p) in procs.iter_mut() {
        let Some(p) = p.as_object_mut() else { continue };
        if let Some(v) = p.remove("is_disabled") {
            let disabled = match &v {
                Value::String(s) if s == "true" => Some(true),
                Value::String(s) if s == "false" => Some(false),
                Value::Bool(b) => Some(*b),
                Value::String(s) if s.is_empty() => None,
                Value::Null => None,
                other => {
                    return Err(pass.error(&segs(&["processes", name, "is_disabled"]), format!("expected \"true\" or \"false\", got {other}")));
                }
            };
            if let Some(d) = disabled {
                p.insert("disabled".into(), Value::Bool(d));
            }
        }
        if from_env.iter().any(|n| n == name) {
            p.insert("disabled".into(), Value::Bool(true));
            pass.notes.push(Diagnostic::note(format!("processes.{name}.disabled"), "disabled by $PC_DISABLED_PROCESSES"));
        }
    }
    Ok(())
}

/// `replicas: N` → processes NAME-0 … NAME-(N-1) (zero-padded as process-compose
/// pads them), each with `PC_REPLICA_NUM`; a dependency on NAME becomes a
/// dependency on every replica, unless the dependent names replicas itself.
pub(crate) fn expand_replicas(pass: &mut Pass, root: &mut Map<String, Value>) -> Result<(), LoadError> {
    let Some(procs) = processes(root) else { return Ok(()) };
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    let names: Vec<String> = procs.keys().cloned().collect();
    let mut total = 0u64;
    for name in names {
        let Some(p) = procs.get_mut(&name).and_then(Value::as_object_mut) else { continue };
        // Only the loader says which process is a replica of which.
        p.remove("x-corral-replica-of");
        let n = match p.remove("replicas") {
            None | Some(Value::Null) => 1,
            Some(Value::Number(n)) if n.as_u64().is_some_and(|n| (1..=MAX_REPLICAS).contains(&n)) => n.as_u64().unwrap(),
            Some(other) => {
                return Err(pass.error(&segs(&["processes", &name, "replicas"]), format!("expected a number of replicas from 1 to {MAX_REPLICAS}, got {other}")));
            }
        };
        p.insert("x-corral-replica".into(), Value::from(0));
        if n == 1 {
            continue;
        }
        total += n;
        if total > MAX_TOTAL_REPLICAS {
            return Err(pass.error(&segs(&["processes", &name, "replicas"]), format!("more than {MAX_TOTAL_REPLICAS} replicas in all")));
        }
        // process-compose's width: 1 + floor(log10(n)), so 10 replicas are NAME-00 … NAME-09.
        let width = n.to_string().len();
        let template = procs.remove(&name).expect("listed");
        let mut replicas = Vec::new();
        for i in 0..n {
            let rname = format!("{name}-{i:0width$}");
            let mut clone = template.clone();
            clone.as_object_mut().expect("object").insert("x-corral-replica".into(), Value::from(i));
            clone.as_object_mut().expect("object").insert("x-corral-replica-of".into(), Value::String(name.clone()));
            if procs.contains_key(&rname) {
                return Err(pass.error(&segs(&["processes", &name, "replicas"]), format!("replica {rname} has the name of another process")));
            }
            procs.insert(rname.clone(), clone);
            pass.renamed.push((rname.clone(), name.clone()));
            replicas.push(rname);
        }
        groups.push((name, replicas));
    }
    if groups.is_empty() {
        return Ok(());
    }
    for p in procs.values_mut() {
        let Some(deps) = p.get_mut("depends_on").and_then(Value::as_object_mut) else { continue };
        let old = std::mem::take(deps);
        for (dep, cond) in &old {
            match groups.iter().find(|(g, _)| g == dep) {
                Some((_, replicas)) => {
                    for r in replicas {
                        if !old.contains_key(r) {
                            deps.insert(r.clone(), cond.clone());
                        }
                    }
                }
                None => {
                    deps.insert(dep.clone(), cond.clone());
                }
            }
        }
    }
    Ok(())
}

/// Renders `{{.NAME}}` templates: global `vars` < the process's `vars` < `PC_REPLICA_NUM`.
/// Done for process-compose YAML files, and for JSON only when it has `vars`.
pub(crate) fn render_templates(pass: &mut Pass, root: &mut Map<String, Value>, yaml: bool) -> Result<(), LoadError> {
    let global = match root.remove("vars") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m),
        Some(other) => return Err(pass.error(&segs(&["vars"]), format!("expected a mapping of NAME: value, got {other}"))),
    };
    let any_process_vars = processes(root).is_some_and(|ps| ps.values().any(|p| p.get("vars").is_some()));
    let render = yaml || global.is_some() || any_process_vars;
    let global = global.unwrap_or_default();
    let Some(procs) = processes(root) else { return Ok(()) };
    for (name, p) in procs.iter_mut() {
        let Some(p) = p.as_object_mut() else { continue };
        let mut vars = global.clone();
        match p.remove("vars") {
            None | Some(Value::Null) => {}
            Some(Value::Object(own)) => vars.extend(own),
            Some(other) => return Err(pass.error(&segs(&["processes", name, "vars"]), format!("expected a mapping of NAME: value, got {other}"))),
        }
        vars.insert("PC_REPLICA_NUM".into(), p.get("x-corral-replica").cloned().unwrap_or(Value::from(0)));
        if render {
            templates::render_process(p, &vars).map_err(|(path, m)| {
                let mut at = segs(&["processes", name]);
                at.extend(path);
                pass.error(&at, m)
            })?;
        }
        p.remove("is_template_disabled");
    }
    Ok(())
}

/// `.env`, `env_cmds`, `env_file` and the `PC_` variables, folded into the
/// `environment` lists (see [`environment`] for the order).
pub(crate) fn build_environment(pass: &mut Pass, root: &mut Map<String, Value>, pc_vars: bool) -> Result<(), LoadError> {
    let shell = root.get("shell").map(|s| {
        (
            s.get("shell_command").and_then(Value::as_str).unwrap_or("bash").to_string(),
            s.get("shell_argument").and_then(Value::as_str).unwrap_or("-c").to_string(),
        )
    });
    let shell = shell.unwrap_or_else(|| ("bash".into(), "-c".into()));
    let mut global = root.get("environment").map(merge::env_pairs).unwrap_or_default();
    match root.remove("env_cmds") {
        None | Some(Value::Null) => {}
        Some(Value::Object(cmds)) => {
            for (name, cmd) in cmds {
                let at = segs(&["env_cmds", &name]);
                let Some(cmd) = cmd.as_str() else { return Err(pass.error(&at, format!("expected a command (text), got {cmd}"))) };
                let value = environment::run_env_cmd(&shell, cmd, &pass.opts.root).map_err(|m| pass.error(&at, format!("command {cmd:?} {m}")))?;
                global.retain(|(k, _)| *k != name);
                global.push((name, value));
            }
            root.insert("environment".into(), Value::Array(global.iter().map(|(k, v)| Value::String(format!("{k}={v}"))).collect()));
        }
        Some(other) => return Err(pass.error(&segs(&["env_cmds"]), format!("expected a mapping of NAME: command, got {other}"))),
    }
    let dotenv: Vec<(String, String)> = pass
        .dotenv
        .iter()
        .filter(|(k, _)| std::env::var_os(k).is_none() && !global.iter().any(|(g, _)| g == k))
        .cloned()
        .collect();
    let root_dir = pass.opts.root.clone();
    let Some(procs) = processes(root) else { return Ok(()) };
    let mut errors = Vec::new();
    for (name, p) in procs.iter_mut() {
        let Some(p) = p.as_object_mut() else { continue };
        let mut front: Vec<(String, String)> = Vec::new();
        if pc_vars {
            let base = p.get("x-corral-replica-of").and_then(|v| v.as_str().map(str::to_string)).unwrap_or_else(|| name.clone());
            let num = p.get("x-corral-replica").cloned().unwrap_or(Value::from(0));
            front.push(("PC_PROC_NAME".into(), base));
            front.push(("PC_REPLICA_NUM".into(), num.to_string()));
        }
        // `x-corral-replica-of` stays: the model keeps it (Process::replica_of) for exports.
        p.remove("x-corral-replica");
        let dotenv_off = matches!(p.remove("is_dotenv_disabled"), Some(Value::Bool(true)));
        if !dotenv_off {
            front.extend(dotenv.iter().cloned());
        }
        match p.remove("env_file") {
            None | Some(Value::Null) => {}
            Some(Value::String(f)) if f.is_empty() => {}
            Some(Value::String(f)) => {
                // process-compose reads it relative to the working_dir, if there is one.
                let base = match p.get("working_dir").and_then(Value::as_str) {
                    Some(wd) if !wd.is_empty() => environment::resolve(&root_dir, wd),
                    _ => root_dir.clone(),
                };
                let path = environment::resolve(&base, &f);
                match environment::read_env_file(&path) {
                    Ok(vars) => front.extend(vars),
                    Err(m) => errors.push((segs(&["processes", name, "env_file"]), m)),
                }
            }
            Some(other) => errors.push((segs(&["processes", name, "env_file"]), format!("expected a file name, got {other}"))),
        }
        if front.is_empty() {
            continue;
        }
        // The process's own entries win: the others are left out where it sets the
        // same name, and appended after its own (so its entries keep their
        // indices in error messages).
        let own = p.get("environment").map(merge::env_pairs).unwrap_or_default();
        front.retain(|(k, _)| !own.iter().any(|(o, _)| o == k));
        let added = front.into_iter().map(|(k, v)| Value::String(format!("{k}={v}")));
        let env: Vec<Value> = match p.remove("environment") {
            Some(Value::Array(items)) => items.into_iter().chain(added).collect(),
            Some(Value::Object(m)) => m.into_iter().map(|(k, v)| Value::String(format!("{k}={}", v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))).chain(added).collect(),
            Some(other) => {
                p.insert("environment".into(), other);
                continue;
            }
            None => added.collect(),
        };
        p.insert("environment".into(), Value::Array(env));
    }
    if let Some((at, m)) = errors.into_iter().next() {
        return Err(pass.error(&at, m));
    }
    Ok(())
}

/// process-compose keys that change how a process runs and that corral does not
/// run: an error when set to anything but their zero value (then dropped).
pub(crate) const UNSUPPORTED_PROCESS_KEYS: &[(&str, &str)] = &[
    ("is_foreground", "corral runs every process in the background; use `corral up NAME` in a terminal of its own"),
    ("is_elevated", "run corral itself with the privileges a process needs"),
    ("is_interactive", "corral does not hand its terminal to a process"),
    ("schedule", "corral has no scheduler; use a systemd timer or cron"),
    ("mcp", "corral has no MCP server"),
    ("monitor_for", "corral does not watch output for activity or silence"),
    ("monitor_silence_threshold", "corral does not watch output for activity or silence"),
    ("truncate_log", "corral appends to log files"),
    ("args", "use entrypoint (a program and its arguments) or command"),
];

pub(crate) const UNSUPPORTED_TOP_KEYS: &[(&str, &str)] = &[
    ("mcp_server", "corral has no MCP server"),
];

pub(crate) fn reject_unsupported_keys(pass: &mut Pass, root: &mut Map<String, Value>) -> Result<(), LoadError> {
    for (key, why) in UNSUPPORTED_TOP_KEYS {
        if let Some(v) = root.get(*key) {
            if !is_zero(v) {
                return Err(pass.error(&segs(&[key]), format!("process-compose's {key} is not supported by corral ({why}); got {}", short(v))));
            }
            root.remove(*key);
        }
    }
    let Some(procs) = processes(root) else { return Ok(()) };
    let mut error = None;
    for (name, p) in procs.iter_mut() {
        let Some(p) = p.as_object_mut() else { continue };
        for (key, why) in UNSUPPORTED_PROCESS_KEYS {
            if let Some(v) = p.get(*key) {
                if !is_zero(v) && error.is_none() {
                    error = Some((segs(&["processes", name, key]), format!("process-compose's {key} is not supported by corral ({why}); got {}", short(v))));
                }
                p.remove(*key);
            }
        }
    }
    match error {
        Some((at, m)) => Err(pass.error(&at, m)),
        None => Ok(()),
    }
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty() || s == "none",
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}
