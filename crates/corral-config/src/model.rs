//! The configuration contract, as serde types.
//!
//! Field names and defaults follow process-compose's schema (snake_case), so that
//! process-compose and process-compose-flake configurations load unchanged. corral's
//! own additions are `format_version`, `pre_hook` and `post_hook`. Where corral
//! deliberately differs, the field docs say so (see docs/config.md).
//!
//! Unknown keys are not rejected by serde; the loader collects them (with their
//! paths) and decides between warning and error. Fields process-compose has but
//! corral does not run yet are typed as raw JSON here so that validation can
//! reject them by name, with the value they were given.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::activation::{Listener, Ports, Watchdog};
use crate::probe::Probe;
use crate::values::{Environment, ExitCode, Namespaces, Seconds, Signal};

/// The format version this corral reads.
pub const FORMAT_VERSION: u32 = 1;

/// A process set: the whole file.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct Config {
    /// corral's own format version. Omit it or set it to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format_version: Option<u32>,

    /// process-compose's version tag (files say "0.5"). Accepted and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Value>")]
    pub version: Option<serde_json::Value>,

    /// A name for the project (used to tell projects apart; optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,

    /// The processes, by name. A name given twice is an error (JSON and YAML
    /// parsers would otherwise keep the last one silently).
    #[serde(deserialize_with = "crate::values::unique_map")]
    pub processes: BTreeMap<String, Process>,

    /// Environment for every process and hook; a process's own `environment` wins.
    #[serde(default, skip_serializing_if = "Environment::is_empty")]
    pub environment: Environment,

    /// The shell that runs commands, hooks and shutdown commands.
    #[serde(default)]
    pub shell: Shell,

    /// A file that receives every process's output, labelled (`name | line`).
    /// Relative to the directory corral was started in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_location: Option<PathBuf>,

    /// process-compose's logger settings: `rotation` applies to `log_location`; the
    /// other keys tune process-compose's own log format and are accepted with a note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_configuration: Option<LogConfiguration>,

    /// Unknown keys are errors instead of warnings (`x-*` keys are always allowed).
    #[serde(default)]
    pub is_strict: bool,

    /// Shell text run before any process starts. Variables it exports reach every
    /// process; a `trap … EXIT` it sets fires when the whole run ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_hook: Option<String>,

    /// Shell text run after every process has stopped, only when the run succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_hook: Option<String>,

    /// corral: a port base that is taken is an error instead of moving to the next free port.
    #[serde(default)]
    pub strict_ports: bool,

    /// Must be absent or `true`: corral never expands `$VAR` at load time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_env_expansion: Option<bool>,

    // Fields of process-compose that change how a run behaves but are not built yet.
    #[serde(default, skip_serializing)]
    #[schemars(skip)]
    pub env_cmds: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    #[schemars(skip)]
    pub vars: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    #[schemars(skip)]
    pub extends: Option<serde_json::Value>,
}

/// How commands are run: `shell_command shell_argument TEXT`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub struct Shell {
    /// The shell program, found on PATH unless absolute.
    #[serde(default = "default_shell_command")]
    pub shell_command: String,
    /// The argument that introduces the command text.
    #[serde(default = "default_shell_argument")]
    pub shell_argument: String,
}

fn default_shell_command() -> String {
    "bash".to_string()
}
fn default_shell_argument() -> String {
    "-c".to_string()
}

impl Default for Shell {
    fn default() -> Self {
        Shell { shell_command: default_shell_command(), shell_argument: default_shell_argument() }
    }
}

/// One process.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
pub struct Process {
    /// Shell text, run as `shell_command shell_argument command`. Reaches the shell unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,

    /// A program and its arguments, executed directly (no shell). Used instead of `command`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,

    /// The directory the process runs in; relative to the directory corral was started in.
    /// Must exist when the process starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<PathBuf>,

    /// Environment for this process; wins over the global `environment`.
    #[serde(default, skip_serializing_if = "Environment::is_empty")]
    pub environment: Environment,

    /// A disabled process is not started unless it is named on the command line.
    #[serde(default)]
    pub disabled: bool,

    /// One namespace or a list of them.
    #[serde(default)]
    pub namespace: Namespaces,

    /// Free text shown by tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,

    /// A file that receives this process's output (unlabelled lines), appended to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_location: Option<PathBuf>,

    /// process-compose's logger settings: `rotation` applies to this process's
    /// `log_location` (the set's own `log_configuration` is not inherited, as in
    /// process-compose).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_configuration: Option<LogConfiguration>,

    /// What happens when the process ends.
    #[serde(default)]
    pub availability: Availability,

    /// Exit statuses that count as success (default `[0]`).
    #[serde(default = "default_success_codes")]
    pub success_exit_codes: Vec<ExitCode>,

    /// How the process is stopped.
    #[serde(default)]
    pub shutdown: Shutdown,

    /// Processes this one waits for, with the condition to wait for.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", deserialize_with = "crate::values::unique_map")]
    pub depends_on: BTreeMap<String, Dependency>,

    /// Marks the process ready (for `process_healthy`) once it passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<Probe>,

    /// Restarts the process (whatever its restart policy) once it keeps failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<Probe>,

    /// A substring of an output line that marks the process ready (for
    /// `process_log_ready`). Exclusive with `readiness_probe`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_log_line: Option<String>,

    /// corral: the process tells its readiness itself with sd_notify (`READY=1` on
    /// `$NOTIFY_SOCKET`). Satisfies `process_healthy`.
    #[serde(default)]
    pub ready_notify: bool,

    /// corral: the process tells its readiness by writing a newline to this fd (s6's
    /// notification-fd; 3 or more). Satisfies `process_healthy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_fd: Option<u32>,

    /// corral: a watchdog fed with sd_notify `WATCHDOG=1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watchdog: Option<Watchdog>,

    /// corral: sockets bound before the first start and kept across restarts, passed
    /// at fd 3, 4, … with `LISTEN_FDS`, `LISTEN_PID` and `LISTEN_FDNAMES`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub listen: Vec<Listener>,

    /// Restart the process (or re-run it, if it has ended) when its files change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch: Option<crate::watch::Watch>,

    /// corral: ports to allocate, by name, with the number to start looking from; the
    /// result is in `$CORRAL_PORT_<PROCESS>_<NAME>` for every process and probe.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ports: Ports,

    /// The command forks a daemon and exits: the process counts as running while
    /// the daemon lives (found by its process group and by the `CORRAL_PROCESS_NAME`
    /// and `CORRAL_RUN_ID` it inherits), and stopping it stops the daemon.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_daemon: bool,

    // Fields of process-compose that are not built yet: rejected by validation
    // when set to anything that would change behaviour.
    #[serde(default, skip_serializing)]
    #[schemars(skip)]
    pub replicas: Option<serde_json::Value>,
    /// On each copy of a process with `replicas: N`, the name it was written with
    /// (set by the loader, which expands replicas; an export turns the copies back
    /// into one workload of N). `x-corral-*` keys are corral's own.
    #[serde(rename = "x-corral-replica-of", default, skip_serializing_if = "Option::is_none")]
    #[schemars(skip)]
    pub replica_of: Option<String>,
    #[serde(default, skip_serializing)]
    #[schemars(skip)]
    pub env_file: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    #[schemars(skip)]
    pub is_dotenv_disabled: Option<serde_json::Value>,
    /// The process gets a pseudo-terminal as its stdin, stdout and stderr (and
    /// controlling terminal), so it colours and line-buffers its output as on a
    /// terminal; the output still goes through corral's labelled output and log files.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_tty: bool,
    #[serde(default, skip_serializing)]
    #[schemars(skip)]
    pub launch_timeout_seconds: Option<serde_json::Value>,
}

fn default_success_codes() -> Vec<ExitCode> {
    vec![ExitCode(0)]
}

impl Process {
    /// Whether `code` counts as success for this process.
    pub fn is_success_code(&self, code: u8) -> bool {
        self.success_exit_codes.iter().any(|c| c.0 == code)
    }
}

/// What happens when a process ends.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
pub struct Availability {
    /// Restart policy: `no`, `on_failure`, `always`, or `exit_on_failure` (end the run
    /// with the process's status when it fails).
    #[serde(default)]
    pub restart: RestartPolicy,
    /// When this process ends by itself, stop the whole run and exit with its status
    /// (0 if the status is listed in `success_exit_codes`).
    #[serde(default)]
    pub exit_on_end: bool,
    /// When this process is skipped (a dependency can no longer be met), stop the run
    /// and exit with status 1.
    #[serde(default)]
    pub exit_on_skipped: bool,
    /// Give up after this many restarts in a row (0 = unlimited).
    #[serde(default)]
    pub max_restarts: u32,
    /// Delay before the first restart (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_seconds: Option<Seconds>,
    /// corral: the delay doubles with each restart in a row, up to this (default:
    /// `backoff_seconds`, a fixed delay as in process-compose).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_max_seconds: Option<Seconds>,
    /// corral: a run that lasts this long counts as stable: the restart count and
    /// the backoff start over (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_after_seconds: Option<Seconds>,
}

impl Availability {
    pub fn backoff(&self) -> std::time::Duration {
        self.backoff_seconds.map_or(std::time::Duration::from_secs(1), |s| s.0)
    }
    pub fn backoff_max(&self) -> std::time::Duration {
        self.backoff_max_seconds.map_or(self.backoff(), |s| s.0).max(self.backoff())
    }
    pub fn stable_after(&self) -> std::time::Duration {
        self.stable_after_seconds.map_or(std::time::Duration::from_secs(10), |s| s.0)
    }
}

/// process-compose's restart policies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RestartPolicy {
    #[default]
    No,
    OnFailure,
    Always,
    ExitOnFailure,
}

/// How a process is stopped: `command` if given, else `signal` to its process group;
/// then SIGKILL to the group after `timeout_seconds`, whatever happened.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct Shutdown {
    /// Shell text that stops the process (run with the process's environment).
    /// If it exits non-zero, the process group is killed at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The signal sent to stop the process (default 15, SIGTERM).
    #[serde(default)]
    pub signal: Signal,
    /// How long to wait before SIGKILL (default 10).
    #[serde(default = "default_shutdown_timeout")]
    pub timeout_seconds: Seconds,
    /// Send `signal` to the process only, not its whole group. The SIGKILL that
    /// follows the timeout still goes to the group.
    #[serde(default)]
    pub parent_only: bool,
}

fn default_shutdown_timeout() -> Seconds {
    Seconds::from_secs(10)
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown {
            command: None,
            signal: Signal::default(),
            timeout_seconds: default_shutdown_timeout(),
            parent_only: false,
        }
    }
}

/// One entry of `depends_on`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
pub struct Dependency {
    /// What to wait for. Missing means `process_completed`, as in process-compose.
    #[serde(default)]
    pub condition: Condition,
}

/// process-compose's dependency conditions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// The dependency has been started.
    ProcessStarted,
    /// The dependency passed its readiness check (`readiness_probe`).
    ProcessHealthy,
    /// The dependency printed its `ready_log_line`.
    ProcessLogReady,
    /// The dependency has exited, whatever its status.
    #[default]
    ProcessCompleted,
    /// The dependency has exited successfully; if it fails, the dependent is skipped.
    ProcessCompletedSuccessfully,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::ProcessStarted => "process_started",
            Condition::ProcessHealthy => "process_healthy",
            Condition::ProcessLogReady => "process_log_ready",
            Condition::ProcessCompleted => "process_completed",
            Condition::ProcessCompletedSuccessfully => "process_completed_successfully",
        }
    }
}

/// process-compose's `log_configuration`. corral honours `rotation`; the other keys
/// (`fields_order`, `disable_json`, `timestamp_format`, `no_color`, `no_metadata`,
/// `add_timestamp`, `flush_each_line`) shape process-compose's own log records and
/// are accepted with a note (corral writes each line as the process wrote it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub struct LogConfiguration {
    /// Rotate the log file instead of letting it grow without bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<LogRotation>,
}

/// Log rotation as process-compose (lumberjack) does it: once a line would take the
/// file past `max_size_mb`, it is renamed to `NAME-<UTC time>.EXT` beside it and a new
/// file is started; old backups are removed by count and age, and compressed if asked.
/// A line is never split between two files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub struct LogRotation {
    /// Rotate before the file grows past this many megabytes (MiB); 0 means 100.
    #[serde(default)]
    pub max_size_mb: u64,
    /// How many rotated files to keep (the newest); 0 keeps them all (within `max_age_days`).
    #[serde(default)]
    pub max_backups: u64,
    /// Remove rotated files older than this many days; 0 keeps them regardless of age.
    #[serde(default)]
    pub max_age_days: u64,
    /// gzip rotated files (`NAME-<time>.EXT.gz`).
    #[serde(default)]
    pub compress: bool,
}

impl LogRotation {
    /// process-compose's (lumberjack's) size when `max_size_mb` is 0.
    pub const DEFAULT_MAX_SIZE_MB: u64 = 100;

    /// The size bound in bytes.
    pub fn max_bytes(&self) -> u64 {
        let mb = if self.max_size_mb == 0 { Self::DEFAULT_MAX_SIZE_MB } else { self.max_size_mb };
        mb.saturating_mul(1024 * 1024)
    }
}
