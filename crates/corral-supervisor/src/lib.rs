//! corral's supervisor: runs a [`Plan`] and returns the run's exit status.
//!
//! Its public API is small on purpose: [`run`] with [`RunOptions`], the
//! project's state directory ([`control::project`]) for client commands, and
//! the [`guardian`] helper. Everything else is `pub(crate)`; docs/architecture.md
//! maps it. From the inside out:
//! - `state`: one pure state machine per process (no I/O, every transition tested);
//! - `dispatcher`: one record per process and the decisions, a pure function
//!   of events (unit-tested), carried out by a thin async shell;
//! - `actor`: one task per process doing its I/O (spawn, wait, stop sequence),
//!   with `probes` and `actor::notify_watchdog` beside it;
//! - `signals`: the run's one source of stop signals and control requests, in every phase;
//! - `control`: the socket server speaking `corral-protocol`;
//! - `output`: pipes → bounded lines → one writer thread (stdout, log files);
//! - `registry`: the only place that spawns; subreaper, orphan reaping, the final sweep;
//! - `platform`: the Linux-specific mechanisms (/proc, fd placement, pid-aware exec);
//! - `hooks`: the pre_hook shell that lives for the whole run, and the post_hook.
//!
//! [`run`] strings them together: output, pre_hook, processes, post_hook, the
//! pre_hook's EXIT trap, the sweep of anything left, and the guardian's dismissal.

mod activation;
mod actor;
pub mod control;
mod dispatcher;
// A few items here became visibly unused when the modules stopped being public;
// other engineers are changing this module right now: tidy up after the merge.
#[allow(dead_code, unused_imports)]
mod env;
mod exit;
mod file_watch;
pub mod guardian;
// A few items here became visibly unused when the modules stopped being public;
// other engineers are changing this module right now: tidy up after the merge.
#[allow(dead_code, unused_imports)]
mod hooks;
mod notify;
// A few items here became visibly unused when the modules stopped being public;
// other engineers are changing this module right now: tidy up after the merge.
#[allow(dead_code, unused_imports)]
mod output;
mod plan;
mod platform;
mod probes;
mod resources;
mod registry;
mod run;
mod setup;
mod signals;
mod spawn;
mod state;
mod terminals;
mod time;
mod trim;

/// For the fuzz targets (fuzz/): the sd_notify parser. Not an API.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::notify::Summary;
}

use std::path::PathBuf;

use corral_config::plan::Plan;

use crate::guardian::Guardian;

pub use crate::run::run;
/// One malloc arena for the process (call before any thread starts).
pub use crate::platform::memory::limit_malloc_arenas;
pub use crate::platform::sched::lower as run_as_batch_work;
/// Log rotation, for the binary's own log in a detached run (corral.log).
pub use crate::output::{start_file_log, RotationPolicy};

pub struct RunOptions {
    pub plan: Plan,
    /// Colour the labels (a terminal, and NO_COLOR unset).
    pub color: bool,
    /// corral's own executable, for the hidden `__env` helper of the pre_hook.
    pub self_exe: PathBuf,
    /// Marks this run's processes (`CORRAL_RUN_ID`, so the guardian finds them).
    pub run_id: String,
    /// Started before the runtime (it must be forked while single-threaded).
    pub guardian: Option<Guardian>,
    /// Serve the control socket of this project (the caller holds its lock).
    pub project: Option<control::project::Project>,
    /// A detaching parent waits on this pipe: "ok" once the control socket
    /// answers, or "error: …".
    pub started: Option<std::fs::File>,
    /// Stay up after every process has ended, until `down` or a stop signal
    /// (process-compose's --keep-project).
    pub keep_project: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Output(std::io::Error),
    #[error("cannot handle signals: {0}")]
    Signals(std::io::Error),
    #[error("control socket: {0}")]
    Control(std::io::Error),
}
