//! One process as clients see it: its state, its last exit, its run.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Where a process is in its lifecycle (docs/lifecycle.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessState {
    /// Known, but the run has not begun (the pre_hook may still be running).
    Pending,
    /// Not part of this run.
    Disabled,
    /// Waiting for its dependencies' conditions.
    Waiting,
    /// Spawn requested; no pid yet.
    Starting,
    /// Running; not (yet) ready, or without a readiness check.
    Running,
    /// Its readiness check passed.
    Ready,
    /// Waiting out the backoff before a restart.
    Restarting,
    /// Asked to stop.
    Stopping,
    /// Ended successfully, or ended after the run asked it to stop.
    Completed,
    /// Ended otherwise and will not be restarted, or could not be started.
    Failed,
    /// Never started: a dependency's condition can no longer be met.
    Skipped,
    /// Stopped on request (`corral stop`); stays so until started.
    Stopped,
}

impl ProcessState {
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessState::Pending => "pending",
            ProcessState::Disabled => "disabled",
            ProcessState::Waiting => "waiting",
            ProcessState::Starting => "starting",
            ProcessState::Running => "running",
            ProcessState::Ready => "ready",
            ProcessState::Restarting => "restarting",
            ProcessState::Stopping => "stopping",
            ProcessState::Completed => "completed",
            ProcessState::Failed => "failed",
            ProcessState::Skipped => "skipped",
            ProcessState::Stopped => "stopped",
        }
    }
}

impl fmt::Display for ProcessState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a process ended, from its wait status. On the wire it is the text
/// corral logs: `"status 1"`, `"signal SIGTERM"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exit {
    /// It exited with this code.
    Code(u8),
    /// A signal (this number) ended it.
    Signal(i32),
}

impl Exit {
    /// The shell convention: the exit code, or 128 + the signal number.
    pub fn status(self) -> i32 {
        match self {
            Exit::Code(c) => i32::from(c),
            Exit::Signal(s) => 128 + s,
        }
    }
}

/// Linux's signal names (the numbers are the kernel's).
const SIGNAL_NAMES: [&str; 31] = [
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP",
    "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
];

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Exit::Code(c) => write!(f, "status {c}"),
            Exit::Signal(s) => match usize::try_from(s).ok().and_then(|n| n.checked_sub(1)).and_then(|n| SIGNAL_NAMES.get(n)) {
                Some(name) => write!(f, "signal SIG{name}"),
                None => write!(f, "signal {s}"),
            },
        }
    }
}

impl std::str::FromStr for Exit {
    type Err = String;
    fn from_str(s: &str) -> Result<Exit, String> {
        let bad = || format!("not an exit (\"status N\" or \"signal NAME\"): {s:?}");
        match s.split_once(' ') {
            Some(("status", n)) => n.parse().map(Exit::Code).map_err(|_| bad()),
            Some(("signal", n)) => match n.parse() {
                Ok(num) => Ok(Exit::Signal(num)),
                Err(_) => {
                    let bare = n.strip_prefix("SIG").unwrap_or(n);
                    SIGNAL_NAMES.iter().position(|x| *x == bare).map(|i| Exit::Signal(i as i32 + 1)).ok_or_else(bad)
                }
            },
            _ => Err(bad()),
        }
    }
}

impl Serialize for Exit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Exit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Exit, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One process, as `ps` shows it and `attach` streams it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessInfo {
    pub name: String,
    pub state: ProcessState,
    pub pid: Option<i32>,
    /// Seconds since the current run started.
    pub uptime_seconds: Option<u64>,
    pub restarts: u32,
    /// The last exit.
    pub exit: Option<Exit>,
    pub ready: bool,
    /// The last `STATUS=` the process sent with sd_notify.
    pub status: Option<String>,
    /// Why it failed or was skipped.
    pub reason: Option<String>,
    /// The ports corral allocated for it, by name (absent when none).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ports: BTreeMap<String, u16>,
    /// Which replica of a process with `replicas` this is (0-based); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica: Option<u32>,
    /// How the process is contained (absent when the server does not say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub containment: Option<Containment>,
    /// CPU and memory of the process's whole group (absent when not measured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceUsage>,
    /// While `restarting`: milliseconds of backoff left before the next start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_in_ms: Option<u64>,
    /// Whether it has a readiness check (probe, log line, sd_notify, fd);
    /// absent when the server does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_check: Option<bool>,
    /// The processes it depends on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// Its namespaces (process-compose's grouping; `default` unless the config says).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
}

impl ProcessInfo {
    /// A process known by name only: pending, nothing else known yet.
    pub fn pending(name: String) -> ProcessInfo {
        ProcessInfo {
            name,
            state: ProcessState::Pending,
            pid: None,
            uptime_seconds: None,
            restarts: 0,
            exit: None,
            ready: false,
            status: None,
            reason: None,
            ports: BTreeMap::new(),
            replica: None,
            containment: None,
            resources: None,
            restart_in_ms: None,
            readiness_check: None,
            depends_on: Vec::new(),
            namespaces: Vec::new(),
        }
    }
}

/// The mechanism that keeps a process's descendants together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Containment {
    /// Its own cgroup (v2): every descendant is found and killed through it.
    Cgroup,
    /// Its own process group, plus corral as subreaper.
    ProcessGroup,
}

/// Resource figures of a process and its descendants.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ResourceUsage {
    /// CPU use since the last sample, in percent of one core.
    pub cpu_percent: f64,
    /// Resident memory, in bytes.
    pub memory_bytes: u64,
}

impl Eq for ResourceUsage {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exits_read_as_corral_logs_them() {
        for (exit, text) in [(Exit::Code(0), "status 0"), (Exit::Code(255), "status 255"), (Exit::Signal(15), "signal SIGTERM"), (Exit::Signal(9), "signal SIGKILL"), (Exit::Signal(40), "signal 40")] {
            assert_eq!(exit.to_string(), text);
            assert_eq!(serde_json::to_string(&exit).unwrap(), format!("{text:?}"));
            assert_eq!(serde_json::from_str::<Exit>(&format!("{text:?}")).unwrap(), exit);
        }
        assert_eq!(Exit::Signal(31).to_string(), "signal SIGSYS");
        assert_eq!(Exit::Signal(29).to_string(), "signal SIGIO");
        assert_eq!(Exit::Signal(9).status(), 137);
        assert!(serde_json::from_str::<Exit>("\"exploded\"").is_err());
    }

    #[test]
    fn states_are_snake_case_words() {
        assert_eq!(serde_json::to_string(&ProcessState::Stopped).unwrap(), "\"stopped\"");
        assert_eq!(serde_json::from_str::<ProcessState>("\"restarting\"").unwrap(), ProcessState::Restarting);
        assert_eq!(ProcessState::Completed.to_string(), "completed");
    }

    #[test]
    fn optional_figures_stay_off_the_wire_until_known() {
        let p = ProcessInfo {
            name: "db".into(),
            state: ProcessState::Ready,
            pid: Some(4),
            uptime_seconds: Some(1),
            restarts: 0,
            exit: None,
            ready: true,
            status: None,
            reason: None,
            ports: BTreeMap::new(),
            replica: None,
            containment: None,
            resources: None,
            restart_in_ms: None,
            readiness_check: None,
            depends_on: vec![],
            namespaces: vec![],
        };
        let text = serde_json::to_string(&p).unwrap();
        assert!(!text.contains("ports") && !text.contains("replica") && !text.contains("containment") && !text.contains("resources") && !text.contains("depends_on"), "{text}");
        assert_eq!(serde_json::from_str::<ProcessInfo>(&text).unwrap(), p);
    }
}
