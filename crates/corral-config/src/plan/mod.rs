//! The run plan: what `corral up` will run, resolved from a loaded config and the
//! command line. Selection, disabled processes, defaults and relative paths are
//! settled here, once, by a pure function ([`Plan::new`]), so the supervisor
//! deals only in resolved values and dense indices `0..n` over the processes of
//! this run, and other tools (exporters, a dashboard) resolve a config exactly
//! as `corral up` would. The plan is not changed afterwards: what only the run
//! knows (allocated port numbers) is looked up beside it ([`ProbeSpec::with_ports`]).

mod restart;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::{Condition, Config, DepGraph, ListenerKind, Loaded, Probe, ProbeKind, ProbePort, RestartPolicy, Signal};

pub use restart::RestartRules;

/// How the process's program is started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// `shell_command shell_argument text`.
    Shell { shell: String, argument: String, text: String },
    /// A program and its arguments, executed directly.
    Exec(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct StopSpec {
    pub command: Option<String>,
    pub signal: Signal,
    pub timeout: Duration,
    pub parent_only: bool,
}

/// A probe's port: fixed, or one the process allocates (known once the run starts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortRef {
    Fixed(u16),
    Allocated(String),
}

/// What one probe check does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    Exec { program: Program, working_dir: PathBuf },
    HttpGet { host: String, port: PortRef, path: String, headers: Vec<(String, String)>, status: Option<u16> },
    Tcp { host: String, port: PortRef },
    /// Succeeds at once: the process's sockets are already bound by corral, so
    /// clients can connect (the implicit check of a socket-activated process).
    Listening,
}

/// A socket to bind before the first start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerSpec {
    pub name: String,
    pub kind: ListenerKind,
    pub mode: Option<u32>,
}

/// A watched path, resolved against the project root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchRoot {
    pub path: PathBuf,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

/// File watching, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchSpec {
    pub roots: Vec<WatchRoot>,
    pub extensions: Vec<String>,
    pub ignore: Vec<String>,
    pub gitignore: bool,
    pub cascade: bool,
    pub debounce: Duration,
    pub default_excludes: bool,
}

/// The watchdog, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchdogSpec {
    pub timeout: Duration,
    pub require_ready: bool,
    pub signal: Signal,
}

/// A readiness or liveness probe, resolved.
#[derive(Debug, Clone)]
pub struct ProbeSpec {
    pub check: Check,
    pub initial_delay: Duration,
    pub period: Duration,
    pub timeout: Duration,
    pub success_threshold: u32,
    pub failure_threshold: u32,
}

/// One process of the run, fully resolved.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    pub name: String,
    pub program: Program,
    pub working_dir: PathBuf,
    /// The process's own `environment`, applied over the shared layers.
    pub environment: Vec<(String, String)>,
    pub enabled: bool,
    pub success_codes: Vec<u8>,
    pub exit_on_end: bool,
    pub exit_on_skipped: bool,
    pub restart: RestartRules,
    /// Boxed, like `watch`: most processes have none, and inline each would
    /// cost every process's spec 160 bytes (a thousand processes, 400 KB).
    pub readiness: Option<Box<ProbeSpec>>,
    pub liveness: Option<Box<ProbeSpec>>,
    /// A substring of an output line that makes the process ready.
    pub ready_log_line: Option<String>,
    /// Readiness from sd_notify `READY=1`.
    pub ready_notify: bool,
    /// Readiness from a newline on this fd (s6).
    pub ready_fd: Option<u32>,
    pub watchdog: Option<WatchdogSpec>,
    pub listeners: Vec<ListenerSpec>,
    /// Ports to allocate: (name, base).
    pub ports: Vec<(String, u16)>,
    pub watch: Option<Box<WatchSpec>>,
    pub stop: StopSpec,
    /// `is_daemon`: the command forks a daemon and exits; the daemon is the process.
    pub daemon: bool,
    /// `is_tty`: a pseudo-terminal for stdin, stdout and stderr.
    pub tty: bool,
    /// Which copy of a process with `replicas` this is; None for an unreplicated process.
    pub replica: Option<Replica>,
    /// Indices (into [`Plan::processes`]) of what this process waits for.
    pub dependencies: Vec<(usize, Condition)>,
    /// Indices of the processes of this run that wait for this one.
    pub dependents: Vec<usize>,
    pub log_file: Option<PathBuf>,
    /// Its namespaces (process-compose's grouping; shown by clients).
    pub namespaces: Vec<String>,
    /// How `log_file` is rotated (process-compose's `log_configuration.rotation`).
    pub log_rotation: Option<crate::model::LogRotation>,
}

/// A replica's identity: the name it was written with and its number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replica {
    pub of: String,
    pub num: u32,
}

/// The replica identity the loader left in the environment (`PC_PROC_NAME`,
/// `PC_REPLICA_NUM`): a process whose name is not the name it was written
/// with is a replica (`api-1` of `api`).
fn replica_of(name: &str, env: &[(String, String)]) -> Option<Replica> {
    let get = |k: &str| env.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let of = get("PC_PROC_NAME")?;
    let num: u32 = get("PC_REPLICA_NUM")?.parse().ok()?;
    let suffix = name.strip_prefix(of)?.strip_prefix('-')?;
    (suffix.parse::<u32>().ok() == Some(num)).then(|| Replica { of: of.to_string(), num })
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub processes: Vec<ProcessSpec>,
    /// The project root: the directory corral was started in.
    pub root: PathBuf,
    pub shell: (String, String),
    pub environment: Vec<(String, String)>,
    pub pre_hook: Option<String>,
    pub post_hook: Option<String>,
    pub log_file: Option<PathBuf>,
    /// How `log_file` is rotated; also the detached run's output log's rotation.
    pub log_rotation: Option<crate::model::LogRotation>,
    /// A taken port base is an error instead of moving on.
    pub strict_ports: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    #[error("unknown process {name:?} (known: {known})")]
    UnknownProcess { name: String, known: String },
}

impl Plan {
    /// Builds the plan for `selection` (empty = every process). Named processes run
    /// even if `disabled`; their dependencies keep their own `disabled` setting.
    pub fn new(loaded: &Loaded, selection: &[String], root: &Path) -> Result<Plan, PlanError> {
        let Loaded { config, graph, .. } = loaded;
        let mut roots = Vec::new();
        for name in selection {
            match graph.index_of(name) {
                Some(i) => roots.push(i),
                None => {
                    return Err(PlanError::UnknownProcess { name: name.clone(), known: graph.names().join(", ") })
                }
            }
        }
        let chosen: BTreeSet<usize> = if roots.is_empty() { (0..graph.len()).collect() } else { graph.closure(&roots) };
        let named: BTreeSet<usize> = roots.iter().copied().collect();
        // Dense indices in start order, so a plan reads top-down in dependency order.
        let order: Vec<usize> = graph.start_order().into_iter().filter(|i| chosen.contains(i)).collect();
        let dense = |orig: usize| order.iter().position(|&o| o == orig).expect("closure is closed under dependencies");
        let processes = order
            .iter()
            .map(|&orig| {
                let name = graph.name(orig);
                let p = &config.processes[name];
                ProcessSpec {
                    name: name.to_string(),
                    program: match (&p.command, &p.entrypoint) {
                        (Some(text), _) => Program::Shell {
                            shell: config.shell.shell_command.clone(),
                            argument: config.shell.shell_argument.clone(),
                            text: text.clone(),
                        },
                        (None, Some(argv)) => Program::Exec(argv.clone()),
                        (None, None) => unreachable!("validation requires command or entrypoint"),
                    },
                    working_dir: p.working_dir.as_deref().map_or_else(|| root.to_path_buf(), |d| root.join(d)),
                    environment: p.environment.0.clone(),
                    enabled: !p.disabled || named.contains(&orig),
                    success_codes: p.success_exit_codes.iter().map(|c| c.0).collect(),
                    exit_on_end: p.availability.exit_on_end,
                    exit_on_skipped: p.availability.exit_on_skipped,
                    restart: RestartRules::from_config(&p.availability),
                    readiness: p.readiness_probe.as_ref().map(|pr| probe_spec(pr, config, root, p.working_dir.as_deref())).or_else(|| implicit_readiness(p)).map(Box::new),
                    liveness: p.liveness_probe.as_ref().map(|pr| Box::new(probe_spec(pr, config, root, p.working_dir.as_deref()))),
                    ready_log_line: p.ready_log_line.clone(),
                    ready_notify: p.ready_notify,
                    ready_fd: p.ready_fd,
                    watchdog: p.watchdog.as_ref().map(|w| WatchdogSpec { timeout: w.timeout_seconds.0, require_ready: w.require_ready, signal: w.signal }),
                    listeners: p
                        .listen
                        .iter()
                        .map(|l| ListenerSpec {
                            name: l.name.clone(),
                            kind: match l.kind().expect("validated") {
                                ListenerKind::UnixStream(path) => ListenerKind::UnixStream(root.join(path)),
                                other => other,
                            },
                            mode: l.mode.map(|m| m.0),
                        })
                        .collect(),
                    ports: p.ports.iter().map(|(n, base)| (n.clone(), base.0)).collect(),
                    watch: p.watch.as_ref().map(|w| Box::new(WatchSpec {
                        roots: w.paths.iter().map(|wp| WatchRoot { path: root.join(&wp.path), include: wp.include.clone(), exclude: wp.exclude.clone() }).collect(),
                        extensions: w.extensions.clone(),
                        ignore: w.ignore.clone(),
                        gitignore: w.gitignore,
                        cascade: w.cascade,
                        debounce: w.debounce(),
                        default_excludes: !w.disable_default_excludes,
                    })),
                    stop: StopSpec {
                        command: p.shutdown.command.clone(),
                        signal: p.shutdown.signal,
                        timeout: p.shutdown.timeout_seconds.0,
                        parent_only: p.shutdown.parent_only,
                    },
                    daemon: p.is_daemon,
                    tty: p.is_tty,
                    replica: replica_of(name, &p.environment.0),
                    dependencies: graph.dependencies(orig).iter().map(|&(d, c)| (dense(d), c)).collect(),
                    dependents: dependents_in(graph, orig, &chosen).into_iter().map(dense).collect(),
                    log_file: p.log_location.as_deref().map(|l| root.join(l)),
                    namespaces: p.namespace.0.clone(),
                    log_rotation: p.log_configuration.as_ref().and_then(|c| c.rotation),
                }
            })
            .collect();
        Ok(Plan {
            processes,
            root: root.to_path_buf(),
            shell: (config.shell.shell_command.clone(), config.shell.shell_argument.clone()),
            environment: config.environment.0.clone(),
            pre_hook: non_blank(&config.pre_hook),
            post_hook: non_blank(&config.post_hook),
            log_file: config.log_location.as_deref().map(|l| root.join(l)),
            log_rotation: config.log_configuration.as_ref().and_then(|c| c.rotation),
            strict_ports: config.strict_ports,
        })
    }

    /// Convenience for tests and tools that have a bare config.
    pub fn from_config(config: &Config, selection: &[String], root: &Path) -> Result<Plan, PlanError> {
        let graph = DepGraph::build(config).expect("config must be validated first");
        Plan::new(&Loaded { config: config.clone(), graph, diagnostics: vec![] }, selection, root)
    }
}

fn probe_spec(probe: &Probe, config: &Config, root: &Path, process_dir: Option<&Path>) -> ProbeSpec {
    let check = match probe.kind().expect("validation requires exactly one probe kind") {
        ProbeKind::Exec(e) => Check::Exec {
            program: Program::Shell {
                shell: config.shell.shell_command.clone(),
                argument: config.shell.shell_argument.clone(),
                text: e.command.clone(),
            },
            working_dir: root.join(e.working_dir.as_deref().or(process_dir).unwrap_or(Path::new(""))),
        },
        ProbeKind::HttpGet(h) => Check::HttpGet {
            host: h.host.clone(),
            port: port_ref(&h.port),
            path: h.path.clone(),
            headers: h.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            status: h.status_code,
        },
        ProbeKind::TcpSocket(t) => Check::Tcp { host: t.host.clone(), port: port_ref(&t.port) },
    };
    ProbeSpec {
        check,
        initial_delay: probe.initial_delay_seconds.0,
        period: probe.period_seconds.0,
        timeout: probe.timeout_seconds.0,
        success_threshold: probe.success_threshold,
        failure_threshold: probe.failure_threshold,
    }
}

fn port_ref(p: &ProbePort) -> PortRef {
    match p {
        ProbePort::Number(n) => PortRef::Fixed(n.0),
        ProbePort::Named(name) => PortRef::Allocated(name.clone()),
    }
}

/// How long the implicit check waits for a process with ports to listen.
const IMPLICIT_PERIOD: Duration = Duration::from_millis(250);
const IMPLICIT_ATTEMPTS: u32 = 240;

/// A process with ports or listeners and no readiness check of its own gets one:
/// a TCP connect to its first port, or, with listeners only, success at once
/// (corral holds the sockets, so clients can already connect).
fn implicit_readiness(p: &crate::Process) -> Option<ProbeSpec> {
    if p.ready_log_line.is_some() || p.ready_notify || p.ready_fd.is_some() {
        return None;
    }
    let check = match (p.ports.keys().next(), p.listen.is_empty()) {
        (Some(name), _) => Check::Tcp { host: "127.0.0.1".into(), port: PortRef::Allocated(name.clone()) },
        (None, false) => Check::Listening,
        (None, true) => return None,
    };
    Some(ProbeSpec {
        check,
        initial_delay: Duration::ZERO,
        period: IMPLICIT_PERIOD,
        timeout: Duration::from_secs(1),
        success_threshold: 1,
        failure_threshold: IMPLICIT_ATTEMPTS,
    })
}

impl ProbeSpec {
    /// This probe with the ports it names by name replaced by their numbers;
    /// `allocated(name)` gives the number the run allocated for its process.
    pub fn with_ports(&self, allocated: impl Fn(&str) -> Option<u16>) -> ProbeSpec {
        let mut p = self.clone();
        if let Check::HttpGet { port, .. } | Check::Tcp { port, .. } = &mut p.check {
            if let PortRef::Allocated(name) = port {
                if let Some(n) = allocated(name) {
                    *port = PortRef::Fixed(n);
                }
            }
        }
        p
    }
}

impl Plan {
    /// Whether any process uses sd_notify (readiness or a watchdog).
    pub fn needs_notify(&self) -> bool {
        self.processes.iter().any(|p| p.ready_notify || p.watchdog.is_some())
    }
}

impl ProcessSpec {
    /// Whether "ready" means more than "running" for this process.
    pub fn has_readiness_check(&self) -> bool {
        self.readiness.is_some() || self.ready_log_line.is_some() || self.ready_notify || self.ready_fd.is_some()
    }

    /// `exit_on_failure`: a final failure ends the whole run with its status.
    pub fn exits_run_on_failure(&self) -> bool {
        self.restart.policy == RestartPolicy::ExitOnFailure
    }
}

fn dependents_in(graph: &DepGraph, i: usize, chosen: &BTreeSet<usize>) -> Vec<usize> {
    graph.dependents(i).iter().copied().filter(|d| chosen.contains(d)).collect()
}

fn non_blank(s: &Option<String>) -> Option<String> {
    s.as_ref().filter(|t| !t.trim().is_empty()).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> Config {
        serde_json::from_str(json).unwrap()
    }

    const SET: &str = r#"{"processes": {
        "api": {"command": "api", "depends_on": {"db": {"condition": "process_started"}}, "working_dir": "srv"},
        "db": {"command": "db", "disabled": true},
        "web": {"entrypoint": ["web", "--port", "1"], "working_dir": "/abs"}}}"#;

    #[test]
    fn selection_takes_dependencies_and_enables_named() {
        let plan = Plan::from_config(&config(SET), &["api".into()], Path::new("/root")).unwrap();
        let names: Vec<&str> = plan.processes.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["db", "api"]);
        assert!(!plan.processes[0].enabled, "db is disabled and was not named");
        assert!(plan.processes[1].enabled);
        assert_eq!(plan.processes[1].dependencies, vec![(0, Condition::ProcessStarted)]);
        assert_eq!(plan.processes[0].dependents, vec![1]);
        assert_eq!(plan.processes[1].working_dir, Path::new("/root/srv"));
        let plan = Plan::from_config(&config(SET), &["db".into()], Path::new("/root")).unwrap();
        assert!(plan.processes[0].enabled, "naming a disabled process runs it");
        assert!(plan.processes[0].dependents.is_empty(), "api is not part of this run");
    }

    #[test]
    fn unknown_selection_is_an_error() {
        let err = Plan::from_config(&config(SET), &["nope".into()], Path::new("/")).unwrap_err();
        assert_eq!(err.to_string(), "unknown process \"nope\" (known: api, db, web)");
    }

    #[test]
    fn named_probe_ports_resolve_against_the_run_s_allocation() {
        let c = config(r#"{"processes": {"api": {"command": "api", "ports": {"http": 8000}, "liveness_probe": {"http_get": {"port": "http"}}}}}"#);
        let plan = Plan::from_config(&c, &[], Path::new("/")).unwrap();
        let probe = plan.processes[0].liveness.as_ref().unwrap();
        assert!(matches!(&probe.check, Check::HttpGet { port: PortRef::Allocated(n), .. } if n == "http"));
        let bound = probe.with_ports(|n| (n == "http").then_some(8003));
        assert!(matches!(bound.check, Check::HttpGet { port: PortRef::Fixed(8003), .. }));
        let implicit = plan.processes[0].readiness.as_ref().unwrap().with_ports(|_| Some(8003));
        assert!(matches!(implicit.check, Check::Tcp { port: PortRef::Fixed(8003), .. }), "{:?}", implicit.check);
    }

    #[test]
    fn absolute_working_dir_and_entrypoint() {
        let plan = Plan::from_config(&config(SET), &[], Path::new("/root")).unwrap();
        let web = plan.processes.iter().find(|p| p.name == "web").unwrap();
        assert_eq!(web.working_dir, Path::new("/abs"));
        assert_eq!(web.program, Program::Exec(vec!["web".into(), "--port".into(), "1".into()]));
    }
}
