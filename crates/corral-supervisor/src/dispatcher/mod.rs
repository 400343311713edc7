//! The dispatcher: one loop that owns every process's record and decides what
//! happens next, split in two so the decisions can be tested without processes:
//!
//! - [`core`]: the decisions. `Core::handle(event) -> actions` is pure (no
//!   I/O, no clock), unit-tested with fake actors in `tests.rs`;
//! - this module: the thin async shell. It waits for the next event (an
//!   actor's report, a control request, a file change, a stop signal, the
//!   next deadline, SIGCHLD), hands it to the core, and carries out the
//!   actions (messages to actors, killing every group, publishing a state,
//!   answering a request).
//!
//! [`record`] holds one process's record; [`control`] and [`changes`] the
//! decisions on control requests and file changes.

mod changes;
mod control;
mod core;
mod record;
mod scale;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

use corral_protocol::{ProcessInfo, Reply};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{broadcast, mpsc, oneshot};

use self::core::{Action, Core, InternalEvent, ReplyTo};
use self::record::ProcessRecord;
use crate::actor::{spawn_actor, ActorContext, ActorHandle, Event};
use crate::env::Env;
use crate::exit::EndCause;
use crate::plan::ProcessSpec;
use crate::registry::Registry;
use crate::signals::{RunInput, StopSignals};
use crate::time::sleep_until;

pub(crate) use control::Ctl;

/// Room for actions kept between events (one event rarely makes more).
const ACTIONS_KEPT: usize = 32;
pub(crate) use record::NewActor;

/// A control request from the socket server, answered on `reply`.
#[derive(Debug)]
pub(crate) struct ControlRequest {
    pub(crate) ctl: Ctl,
    pub(crate) reply: oneshot::Sender<Reply>,
}


pub(crate) struct Dispatcher {
    core: Core<ActorHandle>,
    events: mpsc::UnboundedReceiver<(usize, Event)>,
    registry: Arc<Registry>,
    /// Every state change, for `attach` and `wait` (when a control socket serves this run).
    state_events: Option<broadcast::Sender<Arc<ProcessInfo>>>,
    /// Requests waiting for their answer (`stop` and `restart` wait for the stop).
    replies: HashMap<ReplyTo, oneshot::Sender<Reply>>,
    next_reply: ReplyTo,
    /// File changes of watched processes.
    changes: Option<mpsc::UnboundedReceiver<crate::file_watch::Change>>,
    /// What a replica added by `scale` needs: the actors' context, the common
    /// environment, and the next output source id.
    ctx: Arc<ActorContext>,
    shared_env: Env,
    next_source: crate::output::SourceId,
    /// Gives back what a burst made resident once the dispatcher is quiet (trim.rs).
    trim: crate::trim::Trim,
}

/// What the dispatcher runs: the processes (their specs move into their
/// records) and what their actors need.
pub(crate) struct Processes {
    pub(crate) specs: Vec<Arc<ProcessSpec>>,
    pub(crate) envs: Vec<Env>,
    pub(crate) resources: Vec<crate::actor::Resources>,
    /// The project root, to show changed files relative to it.
    pub(crate) root: std::path::PathBuf,
    /// The run stays up after every process ended (--keep-project).
    pub(crate) keep_project: bool,
    /// The environment every process shares (each adds its own).
    pub(crate) shared_env: Env,
    /// The first output source id after the plan's processes and hooks.
    pub(crate) next_source: crate::output::SourceId,
}

impl Dispatcher {
    pub(crate) fn new(
        processes: Processes,
        ctx: ActorContext,
        events: mpsc::UnboundedReceiver<(usize, Event)>,
        state_events: Option<broadcast::Sender<Arc<ProcessInfo>>>,
        changes: Option<mpsc::UnboundedReceiver<crate::file_watch::Change>>,
    ) -> Dispatcher {
        let registry = ctx.registry.clone();
        let ports = ctx.ports.clone();
        let ctx = Arc::new(ctx);
        let Processes { specs, envs, resources, root, keep_project, shared_env, next_source } = processes;
        let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
        let records = specs
            .into_iter()
            .zip(envs)
            .zip(resources)
            .enumerate()
            .map(|(i, ((spec, env), res))| {
                let actor = spawn_actor(i, spec.clone(), env, res, ctx.clone());
                let mut record = ProcessRecord::new(spec, actor);
                record.run.depends_on = record.spec.dependencies.iter().filter_map(|(d, _)| names.get(*d).cloned()).collect();
                record
            })
            .collect();
        // Watched files or --keep-project: the run goes on after everything ended.
        let mut core = Core::new(records, root, changes.is_some() || keep_project, ports);
        core.set_containment(match registry.containment() {
            crate::registry::Containment::Cgroup(_) => corral_protocol::Containment::Cgroup,
            crate::registry::Containment::Groups(_) => corral_protocol::Containment::ProcessGroup,
        });
        Dispatcher { core, events, registry, state_events, replies: HashMap::new(), next_reply: 0, changes, ctx, shared_env, next_source, trim: Default::default() }
    }

    /// Runs the set until every process has ended; returns why it ended and
    /// whether every process that took part succeeded.
    pub(crate) async fn run(mut self, signals: &mut StopSignals) -> (EndCause, bool) {
        let mut sigchld = signal(SignalKind::child()).ok();
        let mut actions = Vec::new();
        let mut event = Some(InternalEvent::Activate);
        // Requests made during the pre_hook come right after the start.
        let mut parked = signals.take_parked().into_iter();
        let outcome = loop {
            if let Some(ev) = event.take().or_else(|| parked.next().map(|req| self.control(req))) {
                let now = std::time::Instant::now();
                self.core.handle(ev, now, &mut actions);
                self.carry_out(&mut actions);
                // The start of a thousand processes leaves room for thousands of actions: give it back.
                actions.shrink_to(ACTIONS_KEPT);
                self.trim.activity(now);
                continue;
            }
            if let Some(outcome) = self.core.outcome() {
                break outcome;
            }
            let deadline = self.core.next_deadline().map(tokio::time::Instant::from_std);
            let trim_due = self.trim.due().map(tokio::time::Instant::from_std);
            event = tokio::select! {
                input = signals.next_input() => Some(match input {
                    RunInput::Stop(sig) => InternalEvent::StopSignal(sig),
                    RunInput::Control(req) => self.control(req),
                }),
                Some((i, path)) = recv(&mut self.changes) => Some(InternalEvent::FileChanged(i, path)),
                Some((i, ev)) = self.events.recv() => Some(InternalEvent::Actor(i, ev)),
                _ = sleep_until(deadline), if deadline.is_some() => Some(InternalEvent::Tick),
                _ = sleep_until(trim_due), if trim_due.is_some() => {
                    self.trim.fire(std::time::Instant::now());
                    None
                }
                _ = recv_sigchld(&mut sigchld) => {
                    self.registry.reap_orphans();
                    None
                }
            };
        };
        self.core.finish(&mut actions);
        self.carry_out(&mut actions);
        signals.processes_ended(self.core.snapshot(std::time::Instant::now()));
        outcome
    }

    /// A control request as an event; the shell keeps its reply channel.
    fn control(&mut self, req: ControlRequest) -> InternalEvent {
        let to = self.next_reply;
        self.next_reply += 1;
        self.replies.insert(to, req.reply);
        InternalEvent::Control(to, req.ctl)
    }

    fn carry_out(&mut self, actions: &mut Vec<Action>) {
        for action in actions.drain(..) {
            match action {
                Action::Send(i, cmd) => self.core.records[i].actor.send(cmd),
                Action::KillAllGroups => self.registry.kill_all_groups(),
                Action::Publish(i) => {
                    // Built only when someone listens (attach, wait): this runs on every transition.
                    if let Some(tx) = self.state_events.as_ref().filter(|tx| tx.receiver_count() > 0) {
                        let _ = tx.send(Arc::new(self.core.info(i, std::time::Instant::now())));
                    }
                }
                Action::Reply(to, reply) => {
                    if let Some(tx) = self.replies.remove(&to) {
                        let _ = tx.send(reply);
                    }
                }
                Action::AddActor { index, template: _ } => self.add_actor(index),
            }
        }
    }

    /// Starts the actor of a replica `scale` added: its environment as at
    /// load (the common one, its own `environment`, its name), its own ports,
    /// its own output label and log file.
    fn add_actor(&mut self, index: usize) {
        let spec = self.core.records[index].spec.clone();
        let mut env = self.shared_env.clone();
        env.extend(spec.environment.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        env.set(crate::env::PROCESS_NAME_VAR, &spec.name);
        let ports = crate::activation::ports::allocate_more(index, &spec, &self.core.ports_taken());
        for a in &ports {
            env.set(&a.var, a.port.to_string());
        }
        if !ports.is_empty() {
            let shown: Vec<String> = ports.iter().map(|a| format!("{}={}", a.var, a.port)).collect();
            tracing::info!("{}: ports: {}", spec.name, shown.join(" "));
        }
        self.core.add_ports(ports.clone());
        let source = self.next_source;
        tracing::debug!("{}: output source {source}", spec.name);
        self.next_source += 1;
        self.ctx.sink.add_source(source, &spec.name, spec.log_file.clone());
        let res = crate::actor::Resources { source: Some(source), ports, ..Default::default() };
        let ctx = self.ctx.clone();
        self.core.records[index].actor.start(index, spec, env, res, ctx);
    }
}

async fn recv<T>(r: &mut Option<mpsc::UnboundedReceiver<T>>) -> Option<T> {
    match r {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

async fn recv_sigchld(s: &mut Option<tokio::signal::unix::Signal>) {
    match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}
