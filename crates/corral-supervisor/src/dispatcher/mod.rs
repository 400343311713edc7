//! The dispatcher: one loop that owns every process's state machine, the stop
//! signals, the restart timers and the shutdown.
//!
//! It reacts to actor events (spawned, ready, probe verdicts, exited), stop
//! signals, restart timers, and SIGCHLD (to reap re-parented orphans). After
//! each, it re-evaluates the run ([`Dispatcher::advance`]): waiting processes
//! whose dependencies are met start, those whose dependencies can never be met
//! are skipped (which may cascade), and during a stop every process whose
//! dependents have all ended is told to stop, so a set stops in reverse
//! dependency order with independent processes stopping concurrently.

mod changes;
mod control;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::Instant;

use crate::actor::{spawn_actor, ActorContext, ActorHandle, Command, Event, Resources};
use crate::env::Env;
use crate::exit::EndCause;
use crate::plan::Plan;
use crate::registry::Registry;
use crate::signals::StopSignals;
use crate::time::sleep_until;
use crate::state::{check_condition, DepCheck, Effect, Input, Machine, State, StopCause};

/// After a forced stop (second signal), how long to wait for processes to
/// report their exit before giving up on them.
const FORCE_BOUND: Duration = Duration::from_secs(5);

pub use control::{ControlLink, ControlRequest, Ctl};
use corral_protocol::Reply;
use control::RunInfo;

pub struct Dispatcher {
    plan: Arc<Plan>,
    machines: Vec<Machine>,
    actors: Vec<ActorHandle>,
    events: mpsc::UnboundedReceiver<(usize, Event)>,
    registry: Arc<Registry>,
    cause: Option<EndCause>,
    /// Restart timers: when, and for which process.
    timers: BTreeSet<(Instant, usize)>,
    /// pid, start time and last exit of each process's current run, for `ps`.
    runs: Vec<RunInfo>,
    /// Control requests, when a control socket serves this run.
    requests: Option<mpsc::UnboundedReceiver<ControlRequest>>,
    state_events: Option<broadcast::Sender<corral_protocol::ProcessInfo>>,
    /// Processes stopped on request; they stay stopped until started.
    held: BTreeSet<usize>,
    /// Processes to stop on request (in reverse dependency order).
    stop_requests: BTreeSet<usize>,
    /// Processes to start again once stopped (`restart`).
    restart_pending: BTreeSet<usize>,
    /// `stop` / `restart` replies, sent when their processes have stopped.
    pending_stops: Vec<(BTreeSet<usize>, oneshot::Sender<Reply>)>,
    /// File changes of watched processes; while there are watchers, the run
    /// goes on after everything ended (a change may run something again).
    changes: Option<mpsc::UnboundedReceiver<crate::watch::Change>>,
}

impl Dispatcher {
    pub fn new(
        plan: Arc<Plan>,
        envs: Vec<Env>,
        resources: Vec<Resources>,
        ctx: ActorContext,
        events: mpsc::UnboundedReceiver<(usize, Event)>,
        control: Option<ControlLink>,
        changes: Option<mpsc::UnboundedReceiver<crate::watch::Change>>,
    ) -> Dispatcher {
        let registry = ctx.registry.clone();
        let ctx = Arc::new(ctx);
        let machines = plan.processes.iter().map(|p| Machine::new(p.enabled, p.success_codes.clone(), p.restart.clone())).collect();
        let actors = plan
            .processes
            .iter()
            .zip(envs)
            .zip(resources)
            .enumerate()
            .map(|(i, ((spec, env), res))| spawn_actor(i, Arc::new(spec.clone()), env, res, ctx.clone()))
            .collect();
        let (requests, state_events) = match control {
            Some(c) => (Some(c.requests), Some(c.events)),
            None => (None, None),
        };
        Dispatcher {
            runs: vec![RunInfo::default(); plan.processes.len()],
            plan,
            machines,
            actors,
            events,
            registry,
            cause: None,
            timers: BTreeSet::new(),
            requests,
            state_events,
            held: BTreeSet::new(),
            stop_requests: BTreeSet::new(),
            restart_pending: BTreeSet::new(),
            pending_stops: Vec::new(),
            changes,
        }
    }

    fn name(&self, i: usize) -> &str {
        &self.plan.processes[i].name
    }

    fn stopping(&self) -> bool {
        self.cause.is_some()
    }

    /// Runs the set until every process has ended; returns why it ended and
    /// whether every process that took part succeeded.
    pub async fn run(mut self, signals: &mut StopSignals) -> (EndCause, bool) {
        let mut sigchld = signal(SignalKind::child()).ok();
        for i in 0..self.machines.len() {
            self.apply(i, Input::Activate);
        }
        let mut force_deadline: Option<Instant> = None;
        loop {
            self.advance();
            let all_ended = self.machines.iter().all(|m| m.state().is_terminal());
            // Processes stopped on request keep the run alive until started again or `down`.
            let waiting_for_more = !self.held.is_empty() || !self.restart_pending.is_empty() || self.changes.is_some();
            if all_ended && (self.stopping() || !waiting_for_more) {
                break;
            }
            let next_timer = self.timers.first().map(|(t, _)| *t);
            tokio::select! {
                Some(req) = recv_request(&mut self.requests) => self.handle(req),
                Some((i, path)) = recv_change(&mut self.changes) => self.on_change(i, &path),
                sig = signals.next() => self.on_signal(sig, &mut force_deadline),
                Some((i, ev)) = self.events.recv() => self.on_event(i, ev),
                _ = sleep_until(next_timer), if next_timer.is_some() => self.fire_timers(),
                _ = recv_sigchld(&mut sigchld) => { self.registry.reap_orphans(); }
                _ = sleep_until(force_deadline), if force_deadline.is_some() => {
                    let left: Vec<&str> = (0..self.machines.len()).filter(|&i| !self.machines[i].state().is_terminal()).map(|i| self.name(i)).collect();
                    tracing::error!("processes did not exit after SIGKILL: {}; giving up on them", left.join(", "));
                    break;
                }
            }
        }
        for (set, reply) in std::mem::take(&mut self.pending_stops) {
            let _ = reply.send(Ok(self.stopped(&set)));
        }
        let succeeded = self.machines.iter().all(|m| matches!(m.state(), State::Completed { .. } | State::Disabled));
        (self.cause.unwrap_or(EndCause::Natural), succeeded)
    }

    fn on_signal(&mut self, sig: &str, force_deadline: &mut Option<Instant>) {
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
            *force_deadline = Some(Instant::now() + FORCE_BOUND);
        }
    }

    fn on_event(&mut self, i: usize, ev: Event) {
        let input = match ev {
            Event::Spawned { pid } => {
                self.runs[i].pid = Some(pid);
                self.runs[i].started = Some(Instant::now().into_std());
                Input::Spawned { pid }
            }
            Event::SpawnFailed(msg) => {
                tracing::error!("{}: could not start: {msg}", self.name(i));
                Input::SpawnFailed(msg)
            }
            Event::Exited(exit) => {
                let expected = matches!(self.machines[i].state(), State::Stopping { .. }) || self.machines[i].is_success(exit);
                if expected {
                    tracing::info!("{}: exited with {exit}", self.name(i));
                } else {
                    tracing::warn!("{}: exited with {exit}", self.name(i));
                }
                self.runs[i].exit = Some(exit);
                Input::Exited(exit)
            }
            Event::Ready => Input::Ready,
            Event::ReadinessFailed(r) => Input::ReadinessFailed(r),
            Event::LivenessFailed(r) => Input::LivenessFailed(r),
            Event::WatchdogExpired(r) => Input::WatchdogExpired(r),
            Event::Status(text) => {
                self.runs[i].status = Some(text);
                self.publish(i);
                return;
            }
        };
        self.apply(i, input);
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(&(when, i)) = self.timers.first() {
            if when > now {
                break;
            }
            self.timers.pop_first();
            self.apply(i, Input::BackoffElapsed);
        }
    }

    /// Feeds `input` to process `i`'s machine, carries out the effects, and
    /// checks what the new state triggers for the whole run.
    fn apply(&mut self, i: usize, input: Input) {
        let now = Instant::now();
        let from_dependency = matches!(input, Input::DependencyUnmet(_));
        let effects = match self.machines[i].on(input, now.into_std()) {
            Ok(e) => e,
            Err(rejected) => {
                tracing::debug!("{}: {rejected}", self.name(i));
                return;
            }
        };
        let state = self.machines[i].state().clone();
        self.log_transition(i, &state);
        self.publish(i);
        for effect in effects {
            match effect {
                Effect::Spawn => self.actors[i].send(Command::Start),
                Effect::SendStop => {
                    let watchdog = matches!(state, State::Stopping { cause: StopCause::Watchdog(_), .. });
                    self.actors[i].send(if watchdog { Command::Abort } else { Command::Stop });
                }
                Effect::ScheduleRestart(delay) => {
                    self.timers.insert((now + delay, i));
                }
            }
        }
        if self.stopping() {
            return;
        }
        let spec = &self.plan.processes[i];
        match &state {
            State::Skipped { .. } if spec.exit_on_skipped && from_dependency => {
                tracing::info!("{}: exit_on_skipped is set: stopping the run", spec.name);
                self.begin_stop(EndCause::ExitOnSkipped);
            }
            State::Completed { exit, stopped: false } | State::Failed { exit: Some(exit), .. } if spec.exit_on_end => {
                let status = if self.machines[i].is_success(*exit) { 0 } else { exit.status() };
                tracing::info!("{}: exit_on_end is set: stopping the run (status {status})", spec.name);
                self.begin_stop(EndCause::ExitOnEnd(status));
            }
            State::Failed { exit, .. } if spec.exit_on_end || spec.exits_run_on_failure() => {
                let status = exit.map_or(1, |e| e.status());
                let why = if spec.exit_on_end { "exit_on_end" } else { "restart is exit_on_failure" };
                tracing::info!("{}: {why}: stopping the run (status {status})", spec.name);
                self.begin_stop(if spec.exit_on_end { EndCause::ExitOnEnd(status) } else { EndCause::ExitOnFailure(status) });
            }
            _ => {}
        }
    }

    /// One line per meaningful transition, in words.
    fn log_transition(&self, i: usize, state: &State) {
        let name = self.name(i);
        match state {
            State::Pending | State::Waiting | State::Starting => tracing::debug!("{name}: {}", state.name()),
            State::Disabled => tracing::debug!("{name}: disabled"),
            State::Running { pid } => tracing::info!("{name}: started (pid {pid})"),
            State::Ready { .. } => tracing::info!("{name}: ready"),
            State::Restarting { attempt, delay } => tracing::info!("{name}: restarting in {delay:?} (restart {attempt} in a row)"),
            State::Stopping { cause: StopCause::Shutdown, .. } => tracing::debug!("{name}: stopping"),
            State::Stopping { cause: StopCause::Unready(r), .. } => tracing::warn!("{name}: not ready ({r}); stopping it"),
            State::Stopping { cause: StopCause::Liveness(r), .. } => tracing::warn!("{name}: not alive ({r}); restarting it"),
            State::Stopping { cause: StopCause::Watchdog(r), .. } => tracing::warn!("{name}: watchdog expired ({r})"),
            State::Completed { .. } => tracing::debug!("{name}: completed"),
            State::Failed { reason, .. } => tracing::warn!("{name}: failed: {reason}"),
            State::Skipped { reason } if !self.stopping() => tracing::warn!("{name}: skipped: {reason}"),
            State::Skipped { reason } => tracing::debug!("{name}: skipped: {reason}"),
        }
    }

    fn begin_stop(&mut self, cause: EndCause) {
        if self.stopping() {
            return;
        }
        self.cause = Some(cause);
        self.timers.clear();
        self.stop_requests.clear();
        self.restart_pending.clear();
        for i in 0..self.machines.len() {
            // Not started, waiting out a backoff, or being stopped by a probe: none of them restarts now.
            let now = matches!(
                self.machines[i].state(),
                State::Pending
                    | State::Waiting
                    | State::Restarting { .. }
                    | State::Stopping { cause: StopCause::Unready(_) | StopCause::Liveness(_) | StopCause::Watchdog(_), .. }
            );
            if now {
                self.apply(i, Input::Stop);
            }
        }
    }

    /// Starts what can start, skips what never can, and during a stop stops
    /// every process whose dependents have all ended. Repeats until stable.
    fn advance(&mut self) {
        let mut changed = true;
        while changed {
            changed = self.advance_requests();
            for i in 0..self.machines.len() {
                if self.stopping() {
                    let live = matches!(self.machines[i].state(), State::Starting | State::Running { .. } | State::Ready { .. });
                    let dependents_done = self.plan.processes[i].dependents.iter().all(|&d| self.machines[d].state().is_terminal());
                    if live && dependents_done {
                        self.apply(i, Input::Stop);
                        changed = true;
                    }
                } else if matches!(self.machines[i].state(), State::Waiting) && !self.stop_requests.contains(&i) {
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
            let dep = &self.machines[d];
            match check_condition(cond, self.name(d), dep.state(), dep.was_ready()) {
                DepCheck::Met => {}
                DepCheck::Pending => all_met = false,
                DepCheck::Never(reason) => return Some(Input::DependencyUnmet(reason)),
            }
        }
        all_met.then_some(Input::DependenciesMet)
    }
}

async fn recv_request(r: &mut Option<mpsc::UnboundedReceiver<ControlRequest>>) -> Option<ControlRequest> {
    match r {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

async fn recv_change(r: &mut Option<mpsc::UnboundedReceiver<crate::watch::Change>>) -> Option<crate::watch::Change> {
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

