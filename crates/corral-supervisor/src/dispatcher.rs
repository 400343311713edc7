//! The dispatcher: one loop that owns every process's state machine, the stop
//! signals, and the shutdown.
//!
//! It reacts to three things: actor events (spawned, failed to spawn, exited),
//! stop signals, and SIGCHLD (to reap re-parented orphans). After each, it
//! re-evaluates the run ([`Dispatcher::advance`]): waiting processes whose
//! dependencies are met start, those whose dependencies can never be met are
//! skipped (which may cascade), and during a stop every process whose
//! dependents have all ended is told to stop, so a set stops in reverse
//! dependency order with independent processes stopping concurrently.

use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use crate::actor::{spawn_actor, ActorContext, ActorHandle, Command, Event};
use crate::env::Env;
use crate::exit::{exit_status, EndCause};
use crate::plan::Plan;
use crate::registry::Registry;
use crate::signals::StopSignals;
use crate::state::{check_condition, DepCheck, Effect, Input, Machine, State};

/// After a forced stop (second signal), how long to wait for processes to
/// report their exit before giving up on them.
const FORCE_BOUND: Duration = Duration::from_secs(5);

pub struct Dispatcher {
    plan: Arc<Plan>,
    machines: Vec<Machine>,
    actors: Vec<ActorHandle>,
    events: mpsc::UnboundedReceiver<(usize, Event)>,
    registry: Arc<Registry>,
    cause: Option<EndCause>,
}

impl Dispatcher {
    pub fn new(plan: Arc<Plan>, envs: Vec<Env>, ctx: ActorContext, events: mpsc::UnboundedReceiver<(usize, Event)>) -> Dispatcher {
        let registry = ctx.registry.clone();
        let ctx = Arc::new(ctx);
        let machines = plan.processes.iter().map(|p| Machine::new(p.enabled, p.success_codes.clone())).collect();
        let actors = plan
            .processes
            .iter()
            .zip(envs)
            .enumerate()
            .map(|(i, (spec, env))| spawn_actor(i, Arc::new(spec.clone()), env, ctx.clone()))
            .collect();
        Dispatcher { plan, machines, actors, events, registry, cause: None }
    }

    fn name(&self, i: usize) -> &str {
        &self.plan.processes[i].name
    }

    fn stopping(&self) -> bool {
        self.cause.is_some()
    }

    /// Runs the set until every process has ended; returns why it ended.
    pub async fn run(mut self, signals: &mut StopSignals) -> (EndCause, bool) {
        let mut sigchld = signal(SignalKind::child()).ok();
        for i in 0..self.machines.len() {
            self.apply(i, Input::Activate);
        }
        let mut force_deadline: Option<tokio::time::Instant> = None;
        loop {
            self.advance();
            if self.machines.iter().all(|m| m.state().is_terminal()) {
                break;
            }
            tokio::select! {
                sig = signals.next() => self.on_signal(sig, &mut force_deadline),
                Some((i, ev)) = self.events.recv() => self.on_event(i, ev),
                _ = recv_sigchld(&mut sigchld) => { self.registry.reap_orphans(); }
                _ = sleep_until(force_deadline), if force_deadline.is_some() => {
                    let left: Vec<&str> = (0..self.machines.len()).filter(|&i| !self.machines[i].state().is_terminal()).map(|i| self.name(i)).collect();
                    tracing::error!("processes did not exit after SIGKILL: {}; giving up on them", left.join(", "));
                    break;
                }
            }
        }
        let succeeded = self.machines.iter().all(|m| matches!(m.state(), State::Completed { .. } | State::Disabled));
        (self.cause.unwrap_or(EndCause::Natural), succeeded)
    }

    fn on_signal(&mut self, sig: &str, force_deadline: &mut Option<tokio::time::Instant>) {
        if !self.stopping() {
            tracing::info!("received {sig}: stopping every process (send it again to kill them all at once)");
            self.begin_stop(EndCause::Stopped);
        } else if force_deadline.is_none() {
            tracing::warn!("received {sig} again: killing every process group now");
            self.cause = Some(EndCause::Forced);
            for a in &self.actors {
                a.send(Command::Kill);
            }
            self.registry.kill_all_groups();
            *force_deadline = Some(tokio::time::Instant::now() + FORCE_BOUND);
        }
    }

    fn on_event(&mut self, i: usize, ev: Event) {
        let input = match ev {
            Event::Spawned { pid } => {
                tracing::info!("{}: started (pid {pid})", self.name(i));
                Input::Spawned { pid }
            }
            Event::SpawnFailed(msg) => {
                tracing::error!("{}: could not start: {msg}", self.name(i));
                Input::SpawnFailed(msg)
            }
            Event::Exited(exit) => {
                let stopped = matches!(self.machines[i].state(), State::Stopping { .. });
                if stopped || self.machines[i].is_success(exit) {
                    tracing::info!("{}: exited with {exit}", self.name(i));
                } else {
                    tracing::warn!("{}: exited with {exit}", self.name(i));
                }
                Input::Exited(exit)
            }
        };
        self.apply(i, input);
    }

    /// Feeds `input` to process `i`'s machine, carries out the effects, and
    /// checks what the new state triggers for the whole run.
    fn apply(&mut self, i: usize, input: Input) {
        let before = self.machines[i].state().name();
        let effects = match self.machines[i].on(input) {
            Ok(e) => e,
            Err(rejected) => {
                tracing::debug!("{}: {rejected}", self.name(i));
                return;
            }
        };
        let state = self.machines[i].state().clone();
        tracing::debug!("{}: {before} -> {}", self.name(i), state.name());
        for effect in effects {
            match effect {
                Effect::Spawn => self.actors[i].send(Command::Start),
                Effect::SendStop => self.actors[i].send(Command::Stop),
            }
        }
        let spec = &self.plan.processes[i];
        match &state {
            State::Skipped { reason } if !self.stopping() => {
                tracing::warn!("{}: skipped: {reason}", spec.name);
                if spec.exit_on_skipped {
                    tracing::info!("{}: exit_on_skipped is set: stopping the run", spec.name);
                    self.begin_stop(EndCause::ExitOnSkipped);
                }
            }
            State::Completed { exit, stopped: false } | State::Failed { exit: Some(exit), .. } if spec.exit_on_end && !self.stopping() => {
                let status = if self.machines[i].is_success(*exit) { 0 } else { exit.status() };
                tracing::info!("{}: exit_on_end is set: stopping the run (status {status})", spec.name);
                self.begin_stop(EndCause::ExitOnEnd(status));
            }
            State::Failed { exit: None, .. } if spec.exit_on_end && !self.stopping() => {
                tracing::info!("{}: exit_on_end is set: stopping the run (status 1)", spec.name);
                self.begin_stop(EndCause::ExitOnEnd(1));
            }
            _ => {}
        }
    }

    fn begin_stop(&mut self, cause: EndCause) {
        if self.stopping() {
            return;
        }
        self.cause = Some(cause);
        for i in 0..self.machines.len() {
            if matches!(self.machines[i].state(), State::Pending | State::Waiting) {
                self.apply(i, Input::Stop);
            }
        }
    }

    /// Starts what can start, skips what never can, and during a stop stops
    /// every process whose dependents have all ended. Repeats until stable.
    fn advance(&mut self) {
        let mut changed = true;
        while changed {
            changed = false;
            for i in 0..self.machines.len() {
                if self.stopping() {
                    let live = matches!(self.machines[i].state(), State::Starting | State::Running { .. });
                    let dependents_done = self.plan.processes[i].dependents.iter().all(|&d| self.machines[d].state().is_terminal());
                    if live && dependents_done {
                        self.apply(i, Input::Stop);
                        changed = true;
                    }
                } else if matches!(self.machines[i].state(), State::Waiting) {
                    if let Some(input) = self.dependency_input(i) {
                        self.apply(i, input);
                        changed = true;
                    }
                }
            }
        }
    }

    /// `DependenciesMet`, `DependencyUnmet`, or None while still waiting.
    fn dependency_input(&self, i: usize) -> Option<Input> {
        let mut all_met = true;
        for &(d, cond) in &self.plan.processes[i].dependencies {
            match check_condition(cond, self.name(d), self.machines[d].state()) {
                DepCheck::Met => {}
                DepCheck::Pending => all_met = false,
                DepCheck::Never(reason) => return Some(Input::DependencyUnmet(reason)),
            }
        }
        all_met.then_some(Input::DependenciesMet)
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

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// The exit status of a run that ended for `cause`.
pub fn status_of(cause: EndCause, succeeded: bool) -> i32 {
    exit_status(cause, succeeded)
}
