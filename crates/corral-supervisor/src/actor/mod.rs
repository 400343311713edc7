//! The actor of one process: the I/O around its state machine.
//!
//! For each `Start` from the dispatcher (the first run, and every restart) it
//! spawns the process, forwards its output, runs its probes, watches for its
//! readiness (log line, sd_notify, s6 fd) and its watchdog, and reports
//! `Spawned`, `SpawnFailed`, `Ready`, `ReadinessFailed`, `LivenessFailed`,
//! `WatchdogExpired` and `Exited`. Probes and watches live exactly as long as
//! the run they check; the notify socket and listening sockets live as long as
//! the actor, so a restart keeps them. With `is_daemon`, a launcher that exits
//! successfully hands over to its daemon ([`daemon`]): the run lasts as long
//! as the daemon does.

mod daemon;
mod mailbox;
mod stop;
mod supervise;
mod notify_watchdog;

use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::unix::pipe;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::activation::listeners::Bound;
use crate::env::Env;
use crate::notify::NotifySocket;
use crate::output::{forward_watching, ReadyLine, SinkHandle, SourceId};
use crate::plan::{ProcessSpec, Program};
use crate::probes::{self, Verdict};
use crate::registry::Registry;
use crate::spawn::{command, launch, launch_tty, output_pipe};
use crate::state::ExitKind;

use self::supervise::supervise;
use self::notify_watchdog::NotifyWatch;

/// What the dispatcher tells an actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ActorCommand {
    Start,
    Stop,
    /// The watchdog expired: send the watchdog signal, SIGKILL after the stop timeout.
    Abort,
    /// Kill the process group now (the second Ctrl-C).
    Kill,
}

/// What an actor reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    Spawned { pid: i32 },
    SpawnFailed(String),
    Exited(ExitKind),
    Ready,
    ReadinessFailed(String),
    LivenessFailed(String),
    WatchdogExpired(String),
    /// The process sent `STATUS=` with sd_notify.
    Status(String),
    /// `is_daemon`: its command exited and this is the daemon's main pid now.
    DaemonPid(i32),
}

/// How long, after a process exits, its remaining output may take to arrive
/// before the exit is reported anyway (a grandchild may hold the pipe forever).
const DRAIN_BOUND: Duration = Duration::from_millis(250);

pub(crate) struct ActorContext {
    pub(crate) registry: Arc<Registry>,
    pub(crate) sink: SinkHandle,
    pub(crate) events: mpsc::UnboundedSender<(usize, Event)>,
    pub(crate) shell: (String, String),
    /// The ports allocated for this run, for probes that name a port.
    pub(crate) ports: Vec<crate::activation::ports::Allocation>,
}

pub(crate) struct ActorHandle {
    tx: mailbox::Sender,
    /// Until the actor is started: its commands, buffered.
    unstarted: Option<mailbox::Receiver>,
}

impl ActorHandle {
    pub(crate) fn send(&self, cmd: ActorCommand) {
        self.tx.send(cmd);
    }

    /// Starts the actor task for process `index`; commands sent before are delivered.
    pub(crate) fn start(&mut self, index: usize, spec: Arc<ProcessSpec>, env: Env, res: Resources, ctx: Arc<ActorContext>) {
        if let Some(rx) = self.unstarted.take() {
            tokio::spawn(run(index, spec, env, res, ctx, rx));
        }
    }
}

impl crate::dispatcher::NewActor for ActorHandle {
    fn unstarted() -> ActorHandle {
        let (tx, rx) = mailbox::mailbox();
        ActorHandle { tx, unstarted: Some(rx) }
    }
}

/// What an actor keeps across the runs of its process.
#[derive(Default)]
pub(crate) struct Resources {
    /// The process's `$NOTIFY_SOCKET`, if it uses sd_notify or a watchdog.
    pub(crate) notify: Option<NotifySocket>,
    /// Sockets bound for it before its first start, passed at fd 3, 4, …
    pub(crate) listeners: Vec<Bound>,
    /// Its output's source id, when it is not its index (a replica added by `scale`).
    pub(crate) source: Option<SourceId>,
    /// Ports allocated for it after the run began (a replica added by `scale`).
    pub(crate) ports: Vec<crate::activation::ports::Allocation>,
}

/// Starts the actor task for process `index`.
pub(crate) fn spawn_actor(index: usize, spec: Arc<ProcessSpec>, env: Env, res: Resources, ctx: Arc<ActorContext>) -> ActorHandle {
    let mut handle = <ActorHandle as crate::dispatcher::NewActor>::unstarted();
    handle.start(index, spec, env, res, ctx);
    handle
}

async fn run(index: usize, spec: Arc<ProcessSpec>, env: Env, res: Resources, ctx: Arc<ActorContext>, mut cmds: mailbox::Receiver) {
    // The process group of the previous run, whose leftovers go before a restart.
    let mut previous: Option<i32> = None;
    loop {
        match cmds.recv().await {
            Some(ActorCommand::Start) => {
                if let Some(group) = previous.take() {
                    // Boxed, like every rarely taken branch: an actor's future stays small
                    // (it is one per process, held for the whole run).
                    Box::pin(stop::clear_leftovers(&spec, &ctx, group)).await;
                }
                previous = run_once(index, &spec, &env, &res, &ctx, &mut cmds).await;
            }
            Some(_) => continue,
            None => return,
        }
    }
}

/// One run of the process, from spawn to the reported exit. Returns its process group.
async fn run_once(index: usize, spec: &ProcessSpec, env: &Env, res: &Resources, ctx: &Arc<ActorContext>, cmds: &mut mailbox::Receiver) -> Option<i32> {
    let report = |ev| {
        let _ = ctx.events.send((index, ev));
    };
    let (launched, ready_fd) = match start(spec, env, res, ctx) {
        Ok(l) => l,
        Err(msg) => {
            report(Event::SpawnFailed(msg));
            return None;
        }
    };
    let pid = launched.pid;
    let source = res.source.unwrap_or(index);
    let since = if spec.daemon { crate::platform::procfs::stat(pid).map(|s| s.start) } else { None };
    report(Event::Spawned { pid });
    let ready_line = spec.ready_log_line.clone().map(|needle| {
        let events = ctx.events.clone();
        ReadyLine { needle, on_seen: Box::new(move || drop(events.send((index, Event::Ready)))) }
    });
    let reader = tokio::spawn(forward_watching(launched.output, source, ctx.sink.clone(), ready_line));
    let mut probes = Probes::start(index, spec, env, ctx, &res.ports);
    let on_status = |status| report(Event::Status(status));
    let mut watch = NotifyWatch::new(&spec.name, res.notify.as_ref(), pid, ready_fd, spec.watchdog.as_ref(), &on_status);
    let (mut exit, stopped) = supervise(spec, env, ctx, index, source, launched.child, pid, cmds, &mut probes, &mut watch).await;
    drop(watch);
    // A stop that caught the launcher still running takes the daemon along too.
    if spec.daemon && (stopped || matches!(exit, ExitKind::Code(c) if spec.success_codes.contains(&c))) {
        exit = Box::pin(daemon::follow(spec, env, ctx, index, source, pid, since, exit, stopped, cmds, &mut probes)).await;
    }
    drop(probes);
    // Let the last lines arrive before the exit is reported, within a bound.
    let _ = Box::pin(tokio::time::timeout(DRAIN_BOUND, reader)).await;
    if let (true, Some(feed)) = (spec.tty, ctx.sink.feed()) {
        feed.terminals.remove(&spec.name);
    }
    report(Event::Exited(exit));
    Some(pid)
}

/// Spawns one run with what the process asked for: `$NOTIFY_SOCKET` and
/// `WATCHDOG_USEC`; its listeners at fd 3, 4, … with `LISTEN_FDS`,
/// `LISTEN_FDNAMES` and `LISTEN_PID`; its s6 readiness pipe at `ready_fd`.
/// Returns the run and the read end of the readiness pipe.
fn start(spec: &ProcessSpec, env: &Env, res: &Resources, ctx: &ActorContext) -> Result<(crate::spawn::Launched, Option<pipe::Receiver>), String> {
    let mut env = env.clone();
    let mut fds = Vec::new();
    let mut pid_vars = Vec::new();
    if let Some(n) = &res.notify {
        env.set("NOTIFY_SOCKET", n.path());
    }
    if spec.tty && env.get("TERM").is_none_or(|t| t.is_empty()) {
        env.set("TERM", "xterm-256color");
    }
    if let Some(w) = &spec.watchdog {
        env.set("WATCHDOG_USEC", w.timeout.as_micros().to_string());
        pid_vars.push("WATCHDOG_PID");
    }
    if !res.listeners.is_empty() {
        env.set("LISTEN_FDS", res.listeners.len().to_string());
        env.set("LISTEN_FDNAMES", res.listeners.iter().map(|b| b.name.as_str()).collect::<Vec<_>>().join(":"));
        fds.extend(res.listeners.iter().enumerate().map(|(i, b)| (b.fd.as_raw_fd(), 3 + i as i32)));
        pid_vars.push("LISTEN_PID");
    }
    let ready_pipe = match spec.ready_fd {
        Some(target) => {
            let (r, w) = output_pipe().map_err(|e| format!("cannot create the readiness pipe: {e}"))?;
            fds.push((w.as_raw_fd(), target as i32));
            Some((r, w))
        }
        None => None,
    };
    let what = match &spec.program {
        Program::Shell { shell, .. } => shell.clone(),
        Program::Exec(argv) => argv[0].clone(),
    };
    let mut cmd = command(&spec.program, &spec.working_dir, &env);
    for var in pid_vars {
        cmd.env_pid(var);
    }
    for (source, target) in fds {
        cmd.place_fd(source, target);
    }
    let launched = if spec.tty {
        let (launched, terminal) = launch_tty(&ctx.registry, cmd, &what, &spec.working_dir, crate::platform::pty::own_size())?;
        if let Some(feed) = ctx.sink.feed() {
            feed.terminals.set(&spec.name, terminal);
        }
        launched
    } else {
        launch(&ctx.registry, cmd, &what, &spec.working_dir)?
    };
    // Our copy of the write end closes here, so the pipe ends when the process closes its own.
    let ready_fd = match ready_pipe {
        Some((r, _w)) => Some(pipe::Receiver::from_owned_fd(r).map_err(|e| format!("cannot watch the readiness pipe: {e}"))?),
        None => None,
    };
    Ok((launched, ready_fd))
}

/// The probe tasks of one run; aborted when dropped.
pub(super) struct Probes(Vec<JoinHandle<()>>);

impl Probes {
    fn start(index: usize, spec: &ProcessSpec, env: &Env, ctx: &ActorContext, own: &[crate::activation::ports::Allocation]) -> Probes {
        let mut tasks = Vec::new();
        let allocated = |name: &str| ctx.ports.iter().chain(own).find(|a| a.process == index && a.name == name).map(|a| a.port);
        if let Some(p) = &spec.readiness {
            let events = ctx.events.clone();
            tasks.push(probes::spawn(p.with_ports(allocated), env.clone(), ctx.registry.clone(), move |verdict, reason| {
                let ev = match verdict {
                    Verdict::Ready => Event::Ready,
                    Verdict::Failed => Event::ReadinessFailed(format!("readiness probe: {reason}")),
                };
                let _ = events.send((index, ev));
            }));
        }
        if let Some(p) = &spec.liveness {
            let events = ctx.events.clone();
            tasks.push(probes::spawn(p.with_ports(allocated), env.clone(), ctx.registry.clone(), move |verdict, reason| {
                if verdict == Verdict::Failed {
                    let _ = events.send((index, Event::LivenessFailed(format!("liveness probe: {reason}"))));
                }
            }));
        }
        Probes(tasks)
    }

    pub(super) fn stop(&mut self) {
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

