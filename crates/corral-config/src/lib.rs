//! corral's configuration contract: the JSON a process set is written in.
//!
//! This crate is the boundary between the Nix module (which writes the JSON) and
//! the supervisor (which runs it), so it holds everything both sides must agree
//! on and nothing else: the serde model, loading with a field path on every
//! error, semantic validation, the dependency graph, and the resolution of a
//! config into a run [`plan::Plan`]. It does no process
//! work and pulls in no async runtime, so tools (a TUI, an exporter to systemd
//! units, a test harness) can read configs with it cheaply.
//!
//! Loading is three steps: serde parses (a wrong type or value stops here, with
//! its path), unknown keys are classified (notes for process-compose's no-op
//! keys, warnings or errors for the rest), then validation and the graph check
//! everything at once so `corral check` can explain every problem in one go.

mod activation;
mod activation_rules;
mod compose;
mod diagnostic;
mod format;
mod graph;
mod keys;
mod load;
mod model;
mod probe;
pub mod path;
pub mod plan;
mod schema;
mod select;
mod validate;
mod values;
mod watch;

pub use activation::{port_env_name, FileMode, Listener, ListenerKind, Ports, Watchdog};
pub use diagnostic::{Diagnostic, LoadError, Severity};
pub use graph::DepGraph;
pub use compose::{LoadOptions, MAX_REPLICAS};
pub use format::{config_name, Format};
pub use load::{load, load_bytes, load_file, Loaded, MAX_CONFIG_BYTES};
pub use model::*;
pub use probe::{ExecProbe, HttpGetProbe, Port, Probe, ProbeKind, ProbePort, TcpSocketProbe};
pub use schema::json_schema;
pub use select::select;
pub use validate::has_health_check;
pub use watch::{DurationText, Watch, WatchPath};
pub use values::{Environment, ExitCode, Namespaces, Seconds, Signal};
