//! One run, phase by phase: output and the control socket, the pre_hook, what
//! processes need before they start (ports, sockets, file watches), the
//! processes (the dispatcher), the post_hook, and the end (the pre_hook's EXIT
//! trap, the sweep of anything left, the guardian's dismissal, the last output).
//! Every phase takes the same [`StopSignals`], so a stop signal or a `down`
//! request is handled wherever the run is.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use corral_protocol::ProcessInfo;
use tokio::sync::{broadcast, mpsc};

use crate::actor::{ActorContext, Resources};
use crate::activation::ports::Allocation;
use crate::control::project::Project;
use crate::dispatcher::{self, Dispatcher};
use crate::env::{Env, PROCESS_NAME_VAR, PROJECT_ROOT_VAR, RUN_ID_VAR};
use crate::exit::{self, EndCause};
use crate::file_watch::{self, Change, WatchService};
use crate::hooks::{self, HookContext, PreHook};
use crate::output::{self, Feed, Sink, SinkConfig};
use crate::plan::{Plan, ProcessSpec};
use crate::registry::Registry;
use crate::signals::StopSignals;
use crate::{control, setup, RunError, RunOptions};

/// How long the final output flush may take before corral exits anyway.
const OUTPUT_BOUND: Duration = Duration::from_secs(5);
/// Leftover processes get SIGTERM, then SIGKILL after this long.
const SWEEP_GRACE: Duration = Duration::from_secs(2);
const SWEEP_HARD: Duration = Duration::from_secs(3);
/// State changes one `attach` / `wait` follower may fall behind before it gets a snapshot.
const STATE_FOLLOWER_QUEUE: usize = 1024;

/// Runs the plan to its end; returns the run's exit status. Must be called
/// inside a tokio runtime with I/O, time and signals enabled.
pub async fn run(opts: RunOptions) -> Result<i32, RunError> {
    let RunOptions { mut plan, color, self_exe, run_id, guardian, project, mut started, keep_project } = opts;
    // A detached run (its parent waits on `started`) writes its stdout to the output log.
    let detached_output = project.as_ref().filter(|_| started.is_some()).map(|p| p.output_log());
    let mut tell_parent = |msg: &str| {
        if let Some(mut f) = started.take() {
            use std::io::Write;
            let _ = writeln!(f, "{msg}");
        }
    };
    let registry = Arc::new(Registry::new(guardian));
    registry.watch_guardian(); // a guardian that dies is replaced (see guardian.rs)
    if let Err(e) = crate::platform::subreaper::become_subreaper() {
        tracing::warn!("cannot become a subreaper ({e}): processes that leave their group may outlive corral");
    }
    // The one source of stop signals and control requests, for every phase.
    let mut signals = StopSignals::new().map_err(RunError::Signals)?;
    let n = plan.processes.len();
    let (pre_src, post_src) = (n, n + 1);
    let (sink, feed) = start_output(&plan, color, project.is_some(), detached_output).map_err(|e| {
        tell_parent(&format!("error: {e}"));
        RunError::Output(e)
    })?;
    // The control socket answers from here on.
    // Shared, not copied: the queue's slots are allocated (and touched) up front, so
    // each holds a pointer (40 KB for 1,024), not a ProcessInfo (256 KB).
    let (states, _) = broadcast::channel::<Arc<ProcessInfo>>(STATE_FOLLOWER_QUEUE);
    let server = match &project {
        Some(p) => Some(serve(p, &plan, &mut signals, states.clone(), feed).map_err(|e| {
            tell_parent(&format!("error: {e}"));
            RunError::Control(e)
        })?),
        None => None,
    };
    tell_parent("ok");

    let mut shared = Env::inherited();
    shared.set(RUN_ID_VAR, &run_id);
    shared.set(PROJECT_ROOT_VAR, &plan.root);
    shared.extend(plan.environment.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let root = plan.root.clone();
    let hook_ctx = HookContext { registry: &registry, sink: sink.handle(), shell: plan.shell.clone(), root: &root, self_exe: &self_exe };

    // The pre_hook: its exports join the shared environment.
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

    // What the processes need before the first starts.
    let mut runtime_dir = None;
    let prepared = match early_status {
        Some(_) => None,
        None => match prepare(&plan, &mut shared) {
            Ok(p) => {
                runtime_dir = p.runtime_dir.clone();
                Some(p)
            }
            Err(status) => {
                early_status = Some(status);
                None
            }
        },
    };
    // The processes' specs move into their records (shared with their actors): one copy each.
    let specs: Vec<Arc<ProcessSpec>> = std::mem::take(&mut plan.processes).into_iter().map(Arc::new).collect();

    // The processes, then (after a success) the post_hook.
    let status = match (early_status, prepared) {
        (None, Some(prepared)) => {
            let events = server.as_ref().map(|_| states.clone());
            let (cause, succeeded) = run_processes(&plan, specs, prepared, &mut shared, &registry, &sink, events, &mut signals, keep_project).await;
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
        (status, _) => status.unwrap_or(2),
    };

    // The end: the pre_hook's EXIT trap, anything left, the socket, the guardian, the output.
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

/// The output of every process and hook: labels, log files, and (for a
/// control socket) the feed `logs` and `attach` read.
/// `detached_output`: corral's stdout is this file (`up -d`), rotated as the set's
/// `log_configuration.rotation` says, else by [`output::RotationPolicy::DETACHED_OUTPUT`].
fn start_output(plan: &Plan, color: bool, served: bool, detached_output: Option<PathBuf>) -> std::io::Result<(Sink, Arc<Feed>)> {
    let mut labels: Vec<String> = plan.processes.iter().map(|p| p.name.clone()).collect();
    labels.push(if plan.pre_hook.is_some() { "pre_hook".into() } else { String::new() });
    labels.push(if plan.post_hook.is_some() { "post_hook".into() } else { String::new() });
    let mut files: Vec<Option<PathBuf>> = plan.processes.iter().map(|p| p.log_file.clone()).collect();
    files.extend([None, None]);
    let feed = output::Feed::new(labels.clone(), files.clone());
    let rotations = plan.processes.iter().map(|p| p.log_rotation.map(output::RotationPolicy::from)).collect();
    let combined_rotation = plan.log_rotation.map(output::RotationPolicy::from);
    let stdout_file = detached_output.map(|p| (p, combined_rotation.unwrap_or(output::RotationPolicy::DETACHED_OUTPUT)));
    let sink = Sink::start(SinkConfig {
        labels,
        files,
        rotations,
        combined: plan.log_file.clone(),
        combined_rotation,
        stdout_file,
        color,
        feed: served.then(|| feed.clone()),
    })?;
    Ok((sink, feed))
}

/// Starts the control socket; its requests go to the run's one inbox.
fn serve(project: &Project, plan: &Plan, signals: &mut StopSignals, states: broadcast::Sender<Arc<ProcessInfo>>, feed: Arc<Feed>) -> std::io::Result<control::server::Server> {
    let (requests_tx, requests_rx) = mpsc::unbounded_channel();
    let server = control::server::start(project, requests_tx, states, feed)?;
    signals.serve(requests_rx, plan.processes.iter().map(|p| p.name.clone()));
    Ok(server)
}

/// What the processes need before the first one starts.
struct Prepared {
    ports: Vec<Allocation>,
    resources: Vec<Resources>,
    runtime_dir: Option<PathBuf>,
    watching: Option<(WatchService, mpsc::UnboundedReceiver<Change>)>,
}

/// Ports, listening sockets, notify sockets and file watches; on failure,
/// the exit status (nothing was started).
fn prepare(plan: &Plan, shared: &mut Env) -> Result<Prepared, i32> {
    let setup = setup::prepare(plan, shared).map_err(|e| {
        tracing::error!("{e}; nothing was started");
        2
    })?;
    let watching = file_watch::start(plan).map_err(|e| {
        tracing::error!("{e}; nothing was started");
        if let Some(dir) = &setup.runtime_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        2
    })?;
    Ok(Prepared { ports: setup.ports, resources: setup.resources, runtime_dir: setup.runtime_dir, watching })
}

/// Runs the processes to their end: why the run ended, and whether every process succeeded.
#[allow(clippy::too_many_arguments)]
async fn run_processes(
    plan: &Plan,
    specs: Vec<Arc<ProcessSpec>>,
    prepared: Prepared,
    shared: &mut Env,
    registry: &Arc<Registry>,
    sink: &Sink,
    state_events: Option<broadcast::Sender<Arc<ProcessInfo>>>,
    signals: &mut StopSignals,
    keep_project: bool,
) -> (EndCause, bool) {
    let Prepared { ports, resources, watching, .. } = prepared;
    let (watch_service, changes) = match watching {
        Some((s, rx)) => (Some(s), Some(rx)),
        None => (None, None),
    };
    // One shared copy of the common environment; each process adds its own few.
    shared.freeze();
    let envs = specs
        .iter()
        .map(|p| {
            let mut e = shared.clone();
            e.extend(p.environment.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            e.set(PROCESS_NAME_VAR, &p.name);
            e.compact();
            e
        })
        .collect();
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let ctx = ActorContext { registry: registry.clone(), sink: sink.handle(), events: events_tx, shell: plan.shell.clone(), ports };
    // Sources: the processes, then the pre_hook and the post_hook; replicas added by `scale` come after.
    let next_source = specs.len() + 2;
    let processes = dispatcher::Processes { specs, envs, resources, root: plan.root.clone(), keep_project, shared_env: shared.clone(), next_source };
    let outcome = Dispatcher::new(processes, ctx, events_rx, state_events, changes).run(signals).await;
    drop(watch_service);
    outcome
}
