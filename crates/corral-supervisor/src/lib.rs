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
mod registry;
mod setup;
mod signals;
mod spawn;
mod state;
mod time;

/// For the fuzz targets (fuzz/): the sd_notify parser. Not an API.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::notify::Summary;
}

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::actor::ActorContext;
use crate::dispatcher::Dispatcher;
use crate::env::{Env, PROCESS_NAME_VAR, PROJECT_ROOT_VAR, RUN_ID_VAR};
use crate::exit::EndCause;
use crate::guardian::Guardian;
use crate::hooks::{HookContext, PreHook};
use crate::output::{Sink, SinkConfig};
use crate::registry::Registry;
use crate::signals::StopSignals;

use corral_config::plan::Plan;

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

/// How long the final output flush may take before corral exits anyway.
const OUTPUT_BOUND: Duration = Duration::from_secs(5);
/// Leftover processes get SIGTERM, then SIGKILL after this long.
const SWEEP_GRACE: Duration = Duration::from_secs(2);
const SWEEP_HARD: Duration = Duration::from_secs(3);

/// Runs the plan to its end. Must be called inside a tokio runtime with I/O,
/// time and signals enabled.
pub async fn run(opts: RunOptions) -> Result<i32, RunError> {
    let RunOptions { mut plan, color, self_exe, run_id, guardian, project, mut started } = opts;
    let mut tell_parent = |msg: &str| {
        if let Some(mut f) = started.take() {
            use std::io::Write;
            let _ = writeln!(f, "{msg}");
        }
    };
    let registry = Arc::new(Registry::new(guardian));
    if let Err(e) = registry::become_subreaper() {
        tracing::warn!("cannot become a subreaper ({e}): processes that leave their group may outlive corral");
    }
    // The one source of stop signals and control requests, for every phase.
    let mut signals = StopSignals::new().map_err(RunError::Signals)?;

    let n = plan.processes.len();
    let (pre_src, post_src) = (n, n + 1);
    let mut labels: Vec<String> = plan.processes.iter().map(|p| p.name.clone()).collect();
    labels.push(if plan.pre_hook.is_some() { "pre_hook".into() } else { String::new() });
    labels.push(if plan.post_hook.is_some() { "post_hook".into() } else { String::new() });
    let mut files: Vec<Option<PathBuf>> = plan.processes.iter().map(|p| p.log_file.clone()).collect();
    files.extend([None, None]);
    let feed = output::Feed::new(labels.clone(), files.clone());
    let sink = match Sink::start(SinkConfig { labels, files, combined: plan.log_file.clone(), color, feed: project.as_ref().map(|_| feed.clone()) }) {
        Ok(s) => s,
        Err(e) => {
            tell_parent(&format!("error: {e}"));
            return Err(RunError::Output(e));
        }
    };

    // The control socket answers from here on; requests wait until the processes exist.
    let (requests_tx, requests_rx) = tokio::sync::mpsc::unbounded_channel();
    let (states_tx, _) = tokio::sync::broadcast::channel(1024);
    let server = match &project {
        Some(p) => match control::server::start(p, requests_tx, states_tx.clone(), feed.clone()) {
            Ok(s) => {
                signals.serve(requests_rx, plan.processes.iter().map(|p| p.name.clone()));
                Some(s)
            }
            Err(e) => {
                tell_parent(&format!("error: {e}"));
                return Err(RunError::Control(e));
            }
        },
        None => None,
    };
    tell_parent("ok");

    let mut shared = Env::inherited();
    shared.set(RUN_ID_VAR, &run_id);
    shared.set(PROJECT_ROOT_VAR, &plan.root);
    shared.extend(plan.environment.iter().map(|(k, v)| (k.as_str(), v.as_str())));

    let root = plan.root.clone();
    let hook_ctx = HookContext {
        registry: &registry,
        sink: sink.handle(),
        shell: plan.shell.clone(),
        root: &root,
        self_exe: &self_exe,
    };

    // pre_hook: its exports join the shared environment.
    let mut pre_hook: Option<PreHook> = None;
    let mut early_status = None;
    if let Some(text) = &plan.pre_hook {
        match PreHook::start(&hook_ctx, pre_src, text, &shared, &mut signals).await {
            Ok((hook, changes)) => {
                shared.apply(&changes);
                pre_hook = Some(hook);
            }
            Err((hook, failed)) => {
                pre_hook = hook;
                early_status = Some(failed.status);
            }
        }
    }

    // Ports, listeners and notify sockets, before any process starts.
    let mut runtime_dir = None;
    let mut resources = Vec::new();
    let mut ports = Vec::new();
    if early_status.is_none() {
        match setup::prepare(&plan, &mut shared) {
            Ok(prepared) => {
                runtime_dir = prepared.runtime_dir;
                resources = prepared.resources;
                ports = prepared.ports;
            }
            Err(e) => {
                tracing::error!("{e}; nothing was started");
                early_status = Some(2);
            }
        }
    }
    let mut watching = None;
    if early_status.is_none() {
        match file_watch::start(&plan) {
            Ok(w) => watching = w,
            Err(e) => {
                tracing::error!("{e}; nothing was started");
                early_status = Some(2);
            }
        }
    }
    let (watch_service, changes) = match watching {
        Some((s, rx)) => (Some(s), Some(rx)),
        None => (None, None),
    };
    // The processes' specs move into their records (shared with their actors): one copy each.
    let specs: Vec<Arc<plan::ProcessSpec>> = std::mem::take(&mut plan.processes).into_iter().map(Arc::new).collect();

    let status = match early_status {
        Some(status) => status,
        None => {
            // One shared copy of the common environment; each process adds its own few.
            shared.freeze();
            let envs = specs
                .iter()
                .map(|p| {
                    let mut e = shared.clone();
                    e.extend(p.environment.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                    e.set(PROCESS_NAME_VAR, &p.name);
                    e
                })
                .collect();
            let (events_tx, events_rx) = mpsc::unbounded_channel();
            let ctx = ActorContext { registry: registry.clone(), sink: sink.handle(), events: events_tx, shell: plan.shell.clone(), ports };
            let state_events = server.as_ref().map(|_| states_tx.clone());
            let processes = dispatcher::Processes { specs, envs, resources, root: plan.root.clone() };
            let (cause, succeeded) = Dispatcher::new(processes, ctx, events_rx, state_events, changes).run(&mut signals).await;
            drop(watch_service);
            let mut status = exit::exit_status(cause, succeeded);
            tracing::info!("all processes ended; exit status {status}");
            if status == 0 && cause != EndCause::Forced {
                if let Some(text) = &plan.post_hook {
                    let s = hooks::run_post_hook(&hook_ctx, post_src, text, &shared, &mut signals).await;
                    if s != 0 {
                        status = s;
                    }
                }
            }
            status
        }
    };

    if let Some(hook) = pre_hook {
        hook.finish(&registry, status, &mut signals).await;
    }
    registry.sweep(SWEEP_GRACE, SWEEP_HARD).await;
    drop(server);
    if let Some(dir) = runtime_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    registry.dismiss_guardian();
    drop(hook_ctx);
    sink.close(OUTPUT_BOUND).await;
    Ok(status)
}
