//! The actor of one process: the I/O around its state machine.
//!
//! For each `Start` from the dispatcher (the first run, and every restart) it
//! spawns the process, forwards its output, runs its probes and watches for
//! its `ready_log_line`, and reports `Spawned`, `SpawnFailed`, `Ready`,
//! `ReadinessFailed`, `LivenessFailed` and `Exited`. Probes live exactly as
//! long as the run they check. On `Stop` it runs
//! the shutdown sequence: `shutdown.command` (or `shutdown.signal` to the
//! process group), then SIGKILL to the whole group when the timeout expires, or
//! at once if the shutdown command fails. Exit is detected from the wait status,
//! never from the pipe closing: a grandchild holding stdout open must not keep
//! the process "running". During a stop, `Exited` is reported only once the
//! whole group is gone, so that dependencies are stopped after everything of
//! their dependents, not just its leader.

use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::process::Child;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::env::Env;
use crate::hooks::exit_status_of;
use crate::output::{forward, forward_watching, ReadyLine, SinkHandle, SourceId};
use crate::probes::{self, Verdict};
use crate::plan::{ProcessSpec, Program};
use crate::registry::{group_exists, signal_group, signal_pid, Registry};
use crate::spawn::{command, launch};
use crate::state::ExitKind;

/// What the dispatcher tells an actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Start,
    Stop,
    /// Kill the process group now (the second Ctrl-C).
    Kill,
}

/// What an actor reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Spawned { pid: i32 },
    SpawnFailed(String),
    Exited(ExitKind),
    Ready,
    ReadinessFailed(String),
    LivenessFailed(String),
}

/// How long, after a process exits, its remaining output may take to arrive
/// before the exit is reported anyway (a grandchild may hold the pipe forever).
const DRAIN_BOUND: Duration = Duration::from_millis(250);

pub struct ActorContext {
    pub registry: Arc<Registry>,
    pub sink: SinkHandle,
    pub events: mpsc::UnboundedSender<(usize, Event)>,
    pub shell: (String, String),
}

pub struct ActorHandle {
    tx: mpsc::UnboundedSender<Command>,
}

impl ActorHandle {
    pub fn send(&self, cmd: Command) {
        let _ = self.tx.send(cmd);
    }
}

/// Starts the actor task for process `index`.
pub fn spawn_actor(index: usize, spec: Arc<ProcessSpec>, env: Env, ctx: Arc<ActorContext>) -> ActorHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(run(index, spec, env, ctx, rx));
    ActorHandle { tx }
}

async fn run(index: usize, spec: Arc<ProcessSpec>, env: Env, ctx: Arc<ActorContext>, mut cmds: mpsc::UnboundedReceiver<Command>) {
    loop {
        match cmds.recv().await {
            Some(Command::Start) => run_once(index, &spec, &env, &ctx, &mut cmds).await,
            Some(_) => continue,
            None => return,
        }
    }
}

/// One run of the process, from spawn to the reported exit.
async fn run_once(index: usize, spec: &ProcessSpec, env: &Env, ctx: &Arc<ActorContext>, cmds: &mut mpsc::UnboundedReceiver<Command>) {
    let report = |ev| {
        let _ = ctx.events.send((index, ev));
    };
    let what = match &spec.program {
        Program::Shell { shell, .. } => shell.clone(),
        Program::Exec(argv) => argv[0].clone(),
    };
    let launched = match launch(&ctx.registry, command(&spec.program, &spec.working_dir, env), &what, &spec.working_dir) {
        Ok(l) => l,
        Err(msg) => return report(Event::SpawnFailed(msg)),
    };
    let pid = launched.pid;
    report(Event::Spawned { pid });
    let ready_line = spec.ready_log_line.clone().map(|needle| {
        let events = ctx.events.clone();
        ReadyLine { needle, on_seen: Box::new(move || drop(events.send((index, Event::Ready)))) }
    });
    let reader = tokio::spawn(forward_watching(launched.output, index, ctx.sink.clone(), ready_line));
    let mut probes = Probes::start(index, spec, env, ctx);
    let exit = supervise(spec, env, ctx, index, launched.child, pid, cmds, &mut probes).await;
    drop(probes);
    // Let the last lines arrive before the exit is reported, within a bound.
    let _ = tokio::time::timeout(DRAIN_BOUND, reader).await;
    report(Event::Exited(exit));
}

/// The probe tasks of one run; aborted when dropped.
struct Probes(Vec<JoinHandle<()>>);

impl Probes {
    fn start(index: usize, spec: &ProcessSpec, env: &Env, ctx: &ActorContext) -> Probes {
        let mut tasks = Vec::new();
        if let Some(p) = &spec.readiness {
            let events = ctx.events.clone();
            tasks.push(probes::spawn(p.clone(), env.clone(), ctx.registry.clone(), move |verdict, reason| {
                let ev = match verdict {
                    Verdict::Ready => Event::Ready,
                    Verdict::Failed => Event::ReadinessFailed(format!("readiness probe: {reason}")),
                };
                let _ = events.send((index, ev));
            }));
        }
        if let Some(p) = &spec.liveness {
            let events = ctx.events.clone();
            tasks.push(probes::spawn(p.clone(), env.clone(), ctx.registry.clone(), move |verdict, reason| {
                if verdict == Verdict::Failed {
                    let _ = events.send((index, Event::LivenessFailed(format!("liveness probe: {reason}"))));
                }
            }));
        }
        Probes(tasks)
    }

    fn stop(&mut self) {
        for t in self.0.drain(..) {
            t.abort();
        }
    }
}

impl Drop for Probes {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A stop in progress.
struct Stopping {
    deadline: Instant,
    /// The running shutdown command, if the process has one.
    command: Option<(Child, i32)>,
    killed: bool,
}

#[allow(clippy::too_many_arguments)]
async fn supervise(
    spec: &ProcessSpec,
    env: &Env,
    ctx: &ActorContext,
    source: SourceId,
    mut child: Child,
    pid: i32,
    cmds: &mut mpsc::UnboundedReceiver<Command>,
    probes: &mut Probes,
) -> ExitKind {
    let mut stopping: Option<Stopping> = None;
    let mut commands_open = true;
    loop {
        let deadline = stopping.as_ref().filter(|s| !s.killed).map(|s| s.deadline);
        let has_command = stopping.as_ref().is_some_and(|s| s.command.is_some());
        tokio::select! {
            status = child.wait() => {
                ctx.registry.release(pid);
                let exit = match status {
                    Ok(s) => exit_kind(s),
                    Err(e) => {
                        tracing::error!("{}: lost track of the process: {e}", spec.name);
                        ExitKind::Code(255)
                    }
                };
                if let Some(s) = stopping.take() {
                    finish_stop(spec, ctx, pid, s).await;
                }
                return exit;
            }
            cmd = cmds.recv(), if commands_open => match cmd {
                Some(Command::Stop) if stopping.is_none() => {
                    probes.stop();
                    stopping = Some(begin_stop(spec, env, ctx, source, pid));
                }
                Some(Command::Kill) => kill_now(spec, pid, stopping.as_mut()),
                Some(_) => {}
                None => {
                    commands_open = false;
                    kill_now(spec, pid, stopping.as_mut());
                }
            },
            status = wait_command(&mut stopping), if has_command => {
                let s = stopping.as_mut().expect("guarded by has_command");
                let (_, cpid) = s.command.take().expect("guarded by has_command");
                ctx.registry.release(cpid);
                if status != 0 {
                    tracing::warn!("{}: shutdown command failed with status {status}; killing its process group", spec.name);
                    kill_now(spec, pid, Some(s));
                }
            }
            _ = sleep_until(deadline), if deadline.is_some() => {
                tracing::warn!("{}: still running {:?} after it was asked to stop; sending SIGKILL to its process group", spec.name, spec.stop.timeout);
                kill_now(spec, pid, stopping.as_mut());
            }
        }
    }
}

fn begin_stop(spec: &ProcessSpec, env: &Env, ctx: &ActorContext, source: SourceId, pid: i32) -> Stopping {
    let deadline = Instant::now() + spec.stop.timeout;
    let mut stopping = Stopping { deadline, command: None, killed: false };
    if let Some(text) = &spec.stop.command {
        tracing::info!("{}: stopping (running its shutdown command)", spec.name);
        let program = Program::Shell { shell: ctx.shell.0.clone(), argument: ctx.shell.1.clone(), text: text.clone() };
        match launch(&ctx.registry, command(&program, &spec.working_dir, env), &ctx.shell.0, &spec.working_dir) {
            Ok(l) => {
                tokio::spawn(forward(l.output, source, ctx.sink.clone()));
                stopping.command = Some((l.child, l.pid));
            }
            Err(e) => {
                tracing::warn!("{}: shutdown command could not start ({e}); killing its process group", spec.name);
                kill_now(spec, pid, Some(&mut stopping));
            }
        }
    } else {
        tracing::info!("{}: stopping (sending {} to its {})", spec.name, spec.stop.signal, if spec.stop.parent_only { "process" } else { "process group" });
        let sig = Signal::try_from(spec.stop.signal.number()).unwrap_or(Signal::SIGTERM);
        if spec.stop.parent_only {
            signal_pid(pid, sig);
        } else {
            signal_group(pid, sig);
        }
    }
    stopping
}

/// SIGKILL to the process group (and to the shutdown command's group).
fn kill_now(spec: &ProcessSpec, pid: i32, stopping: Option<&mut Stopping>) {
    tracing::debug!("{}: SIGKILL to process group {pid}", spec.name);
    signal_group(pid, Signal::SIGKILL);
    if let Some(s) = stopping {
        s.killed = true;
        if let Some((_, cpid)) = &s.command {
            signal_group(*cpid, Signal::SIGKILL);
        }
    }
}

/// After the leader exited during a stop: wait until the rest of its group is
/// gone, SIGKILLing it at the deadline; reap the shutdown command.
async fn finish_stop(spec: &ProcessSpec, ctx: &ActorContext, pid: i32, mut s: Stopping) {
    loop {
        ctx.registry.reap_orphans();
        if !group_exists(pid) {
            break;
        }
        if Instant::now() >= s.deadline && !s.killed {
            tracing::warn!("{}: processes of its group outlived it by {:?}; sending SIGKILL", spec.name, spec.stop.timeout);
            kill_now(spec, pid, Some(&mut s));
        }
        if s.killed && Instant::now() >= s.deadline + Duration::from_secs(5) {
            tracing::error!("{}: its process group survives SIGKILL; giving up on it", spec.name);
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    if let Some((mut cmd, cpid)) = s.command.take() {
        // The process is gone; a shutdown command still running has no purpose left.
        if !matches!(cmd.try_wait(), Ok(Some(_))) {
            signal_group(cpid, Signal::SIGKILL);
            let _ = cmd.wait().await;
        }
        ctx.registry.release(cpid);
    }
}

async fn wait_command(stopping: &mut Option<Stopping>) -> i32 {
    match stopping.as_mut().and_then(|s| s.command.as_mut()) {
        Some((child, _)) => child.wait().await.map(exit_status_of).unwrap_or(1),
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn exit_kind(status: std::process::ExitStatus) -> ExitKind {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => ExitKind::Code(c as u8),
        (None, Some(s)) => ExitKind::Signal(s),
        (None, None) => ExitKind::Code(255),
    }
}
