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
use crate::signals::StopSignals;
use crate::time::sleep_until;

pub use control::Ctl;

/// A control request from the socket server, answered on `reply`.
#[derive(Debug)]
pub struct ControlRequest {
    pub ctl: Ctl,
    pub reply: oneshot::Sender<Reply>,
}

/// The dispatcher's ends of the control channels.
pub struct ControlLink {
    pub requests: mpsc::UnboundedReceiver<ControlRequest>,
    /// Every state change, for `attach` and `wait`.
    pub events: broadcast::Sender<ProcessInfo>,
}

pub struct Dispatcher {
    core: Core<ActorHandle>,
    events: mpsc::UnboundedReceiver<(usize, Event)>,
    registry: Arc<Registry>,
    /// Control requests, when a control socket serves this run.
    requests: Option<mpsc::UnboundedReceiver<ControlRequest>>,
    state_events: Option<broadcast::Sender<ProcessInfo>>,
    /// Requests waiting for their answer (`stop` and `restart` wait for the stop).
    replies: HashMap<ReplyTo, oneshot::Sender<Reply>>,
    next_reply: ReplyTo,
    /// File changes of watched processes.
    changes: Option<mpsc::UnboundedReceiver<crate::watch::Change>>,
}

/// What the dispatcher runs: the processes (their specs move into their
/// records) and what their actors need.
pub struct Processes {
    pub specs: Vec<Arc<ProcessSpec>>,
    pub envs: Vec<Env>,
    pub resources: Vec<crate::actor::Resources>,
    /// The project root, to show changed files relative to it.
    pub root: std::path::PathBuf,
}

impl Dispatcher {
    pub fn new(
        processes: Processes,
        ctx: ActorContext,
        events: mpsc::UnboundedReceiver<(usize, Event)>,
        control: Option<ControlLink>,
        changes: Option<mpsc::UnboundedReceiver<crate::watch::Change>>,
    ) -> Dispatcher {
        let registry = ctx.registry.clone();
        let ctx = Arc::new(ctx);
        let Processes { specs, envs, resources, root } = processes;
        let records = specs
            .into_iter()
            .zip(envs)
            .zip(resources)
            .enumerate()
            .map(|(i, ((spec, env), res))| {
                let actor = spawn_actor(i, spec.clone(), env, res, ctx.clone());
                ProcessRecord::new(spec, actor)
            })
            .collect();
        let (requests, state_events) = match control {
            Some(c) => (Some(c.requests), Some(c.events)),
            None => (None, None),
        };
        let core = Core::new(records, root, changes.is_some());
        Dispatcher { core, events, registry, requests, state_events, replies: HashMap::new(), next_reply: 0, changes }
    }

    /// Runs the set until every process has ended; returns why it ended and
    /// whether every process that took part succeeded.
    pub async fn run(mut self, signals: &mut StopSignals) -> (EndCause, bool) {
        let mut sigchld = signal(SignalKind::child()).ok();
        let mut actions = Vec::new();
        let mut event = Some(InternalEvent::Activate);
        let outcome = loop {
            if let Some(ev) = event.take() {
                self.core.handle(ev, std::time::Instant::now(), &mut actions);
                self.carry_out(&mut actions);
            }
            if let Some(outcome) = self.core.outcome() {
                break outcome;
            }
            let deadline = self.core.next_deadline().map(tokio::time::Instant::from_std);
            event = tokio::select! {
                Some(req) = recv(&mut self.requests) => {
                    let to = self.next_reply;
                    self.next_reply += 1;
                    self.replies.insert(to, req.reply);
                    Some(InternalEvent::Control(to, req.ctl))
                }
                Some((i, path)) = recv(&mut self.changes) => Some(InternalEvent::FileChanged(i, path)),
                sig = signals.next() => Some(InternalEvent::StopSignal(sig)),
                Some((i, ev)) = self.events.recv() => Some(InternalEvent::Actor(i, ev)),
                _ = sleep_until(deadline), if deadline.is_some() => Some(InternalEvent::Tick),
                _ = recv_sigchld(&mut sigchld) => {
                    self.registry.reap_orphans();
                    None
                }
            };
        };
        self.core.finish(&mut actions);
        self.carry_out(&mut actions);
        outcome
    }

    fn carry_out(&mut self, actions: &mut Vec<Action>) {
        for action in actions.drain(..) {
            match action {
                Action::Send(i, cmd) => self.core.records[i].actor.send(cmd),
                Action::KillAllGroups => self.registry.kill_all_groups(),
                Action::Publish(i) => {
                    // Built only when someone listens (attach, wait): this runs on every transition.
                    if let Some(tx) = self.state_events.as_ref().filter(|tx| tx.receiver_count() > 0) {
                        let _ = tx.send(self.core.records[i].info(std::time::Instant::now()));
                    }
                }
                Action::Reply(to, reply) => {
                    if let Some(tx) = self.replies.remove(&to) {
                        let _ = tx.send(reply);
                    }
                }
            }
        }
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
