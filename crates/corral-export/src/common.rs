//! What every format needs from a process: its argv, environment, paths and
//! probes in a target-neutral form, and names made safe for the target.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use corral_config::{port_env_name, Condition, Config, DepGraph, ExecProbe, Probe, ProbePort, Process};

use crate::shell;
use crate::warnings::Warnings;
use crate::Options;

/// A config with the target's options, and the answers every format asks.
pub(crate) struct Set<'a> {
    pub config: &'a Config,
    pub options: &'a Options,
    /// Process names in start order (dependencies first).
    pub order: Vec<&'a str>,
    /// Names of processes others wait for until they have *completed*: one-shots.
    pub completed_deps: Vec<&'a str>,
}

impl<'a> Set<'a> {
    pub fn new(config: &'a Config, options: &'a Options, warnings: &mut Warnings) -> Self {
        let order: Vec<&str> = match DepGraph::build(config) {
            Ok(g) => g.start_order().into_iter().map(|i| config.processes.get_key_value(g.name(i)).expect("graph names are processes").0.as_str()).collect(),
            Err(_) => config.processes.keys().map(String::as_str).collect(),
        };
        let mut completed_deps: Vec<&str> = Vec::new();
        for p in config.processes.values() {
            for (dep, d) in &p.depends_on {
                if matches!(d.condition, Condition::ProcessCompleted | Condition::ProcessCompletedSuccessfully) {
                    if let Some((k, _)) = config.processes.get_key_value(dep) {
                        if !completed_deps.contains(&k.as_str()) {
                            completed_deps.push(k.as_str());
                        }
                    }
                }
            }
        }
        if config.post_hook.is_some() {
            warnings.add("post_hook", "not exported: no target runs a command after the whole set has stopped");
        }
        if config.log_location.is_some() {
            warnings.add("log_location", "not exported: the target keeps each process's output itself (journal, container logs)");
        }
        Set { config, options, order, completed_deps }
    }

    pub fn process(&self, name: &str) -> &'a Process {
        &self.config.processes[name]
    }

    pub fn is_one_shot(&self, name: &str) -> bool {
        self.completed_deps.contains(&name) || self.process(name).availability.exit_on_end
    }

    /// `[shell_command, shell_argument]`.
    pub fn shell(&self) -> [String; 2] {
        [self.config.shell.shell_command.clone(), self.config.shell.shell_argument.clone()]
    }

    /// A bash for the generated network checks: the configured shell if it is bash.
    pub fn bash(&self) -> String {
        let sh = &self.config.shell.shell_command;
        if Path::new(sh).file_name().is_some_and(|f| f == "bash") { sh.clone() } else { "bash".into() }
    }

    /// The argv that runs the process, with the pre_hook (if any) run first in
    /// the same shell. `warnings` hears about the pre_hook once per process.
    pub fn argv(&self, name: &str, warnings: &mut Warnings) -> Vec<String> {
        let p = self.process(name);
        let [sh, arg] = self.shell();
        let pre = self.config.pre_hook.as_deref();
        if pre.is_some() {
            warnings.add("pre_hook", "run in each process's shell before its command, not once for the set; a trap it sets on EXIT does not run when the set stops");
        }
        match (&p.entrypoint, &p.command) {
            (Some(ep), _) => match pre {
                None => ep.clone(),
                Some(pre) => {
                    let mut v = vec![sh, arg, format!("{pre}\ntrap - EXIT\nexec \"$@\""), name.to_string()];
                    v.extend(ep.iter().cloned());
                    v
                }
            },
            (None, Some(cmd)) => {
                let text = match pre {
                    Some(pre) => format!("{pre}\ntrap - EXIT\n{cmd}"),
                    None => cmd.clone(),
                };
                vec![sh, arg, text]
            }
            (None, None) => vec![sh, arg, String::new()],
        }
    }

    /// The environment as corral gives it: the set's, then the process's (winning),
    /// then every allocated port at its base number (the target does not allocate).
    pub fn env(&self, name: &str) -> Vec<(String, String)> {
        let mut map: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in self.config.environment.iter() {
            map.insert(k.into(), v.into());
        }
        for (k, v) in self.process(name).environment.iter() {
            map.insert(k.into(), v.into());
        }
        for (pname, p) in &self.config.processes {
            for (port, base) in &p.ports {
                map.entry(port_env_name(pname, port)).or_insert_with(|| base.0.to_string());
            }
        }
        map.into_iter().collect()
    }

    /// `path` made absolute against the project root on the target.
    pub fn abs(&self, path: &Path) -> PathBuf {
        if path.is_absolute() { path.to_path_buf() } else { self.options.root.join(path) }
    }

    /// The directory the process runs in on the target.
    pub fn working_dir(&self, name: &str) -> PathBuf {
        self.process(name).working_dir.as_deref().map_or_else(|| self.options.root.clone(), |d| self.abs(d))
    }

    /// A probe's port number (a named port is its base number).
    pub fn probe_port(&self, name: &str, port: &ProbePort) -> u16 {
        match port {
            ProbePort::Number(p) => p.0,
            ProbePort::Named(n) => self.process(name).ports.get(n).map_or(0, |p| p.0),
        }
    }

    /// The argv that runs `probe` once.
    /// An exec probe with its own `working_dir` changes into it first.
    pub fn probe_argv(&self, name: &str, probe: &Probe) -> Vec<String> {
        let tcp = probe.tcp_socket.as_ref().map(|t| (t, self.probe_port(name, &t.port)));
        let http = probe.http_get.as_ref().map(|h| (h, self.probe_port(name, &h.port)));
        let exec = probe.exec.as_ref().map(|e| match &e.working_dir {
            Some(dir) => ExecProbe { command: format!("cd {} && {}", shell::quote(&self.abs(dir).to_string_lossy()), e.command), working_dir: None },
            None => e.clone(),
        });
        shell::probe_argv(&self.shell(), &self.bash(), exec.as_ref(), tcp, http).unwrap_or_default()
    }

    /// The ports a process declares (allocated ports and TCP/UDP listeners), by name.
    pub fn declared_ports(&self, name: &str) -> Vec<(String, u16, &'static str)> {
        let p = self.process(name);
        let mut out: Vec<(String, u16, &'static str)> = p.ports.iter().map(|(n, b)| (n.clone(), b.0, "TCP")).collect();
        for l in &p.listen {
            match l.kind() {
                Some(corral_config::ListenerKind::Tcp(a)) => out.push((l.name.clone(), a.port(), "TCP")),
                Some(corral_config::ListenerKind::Udp(a)) => out.push((l.name.clone(), a.port(), "UDP")),
                _ => {}
            }
        }
        out
    }
}

/// A DNS-1123 label (Kubernetes names, Compose project names): lower-case letters,
/// digits and '-', starting and ending with a letter or digit, at most 63 characters.
pub(crate) fn dns_label(name: &str) -> String {
    let mut s: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    s.truncate(63);
    let s = s.trim_matches('-').to_string();
    if s.is_empty() { "corral".into() } else { s }
}

/// Seconds for targets that take whole seconds, rounded up (never below `min`).
pub(crate) fn whole_seconds(d: std::time::Duration, min: u64) -> u64 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    s.max(min)
}

/// A duration as `1.5s` / `250ms` (systemd, Compose).
pub(crate) fn duration_text(d: std::time::Duration) -> String {
    if d.subsec_millis() == 0 && d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis().max(1))
    }
}

/// A JSON document as YAML (Compose, Kubernetes).
pub(crate) fn yaml(doc: &serde_json::Value) -> Result<String, crate::ExportError> {
    let mut text = serde_saphyr::to_string(doc).map_err(|e| crate::ExportError::Yaml(e.to_string()))?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}
