//! The dispatcher's decisions, as a pure function of events.
//!
//! [`Core::handle`] takes one [`InternalEvent`] (an actor's report, a control
//! request, a file change, a stop signal, a deadline) and the time, updates the
//! process records, and returns the [`Action`]s the async shell must carry out
//! (tell an actor to start or stop, kill every group, publish a state, answer
//! a request). It never awaits, spawns or reads the clock, so every decision is
//! unit-tested without a process (`tests.rs`).
//!
//! After each event the run is re-evaluated ([`Core::advance`]): waiting
//! processes whose dependencies are met start, those whose dependencies can
//! never be met are skipped (which may cascade), and during a stop every
//! process whose dependents have all ended is told to stop, so a set stops in
//! reverse dependency order with independent processes stopping concurrently.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use corral_protocol::Reply;

use super::control::Ctl;
use super::record::{NewActor, ProcessRecord};
use crate::activation::ports::Allocation;
use crate::actor::{ActorCommand, Event};
use crate::exit::EndCause;
use crate::state::{check_condition, DepCheck, Effect, Input, State, StopCause};

/// After a forced stop (second signal), how long to wait for processes to
/// report their exit before giving up on them.
const FORCE_BOUND: Duration = Duration::from_secs(5);

/// Names a control request waiting for its answer (the shell keeps the channel).
pub(crate) type ReplyTo = u64;

/// Everything that can happen to a run.
#[derive(Debug)]
pub(crate) enum InternalEvent {
    /// The run begins (after the pre_hook and the setup).
    Activate,
    /// An actor reports about its process.
    Actor(usize, Event),
    /// A control request (`ps`, `stop` …).
    Control(ReplyTo, Ctl),
    /// A watched file of process `.0` changed.
    FileChanged(usize, PathBuf),
    /// SIGINT, SIGTERM or SIGHUP (named).
    StopSignal(&'static str),
    /// [`Core::next_deadline`] has passed.
    Tick,
}

/// What the shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Tell process `.0`'s actor.
    Send(usize, ActorCommand),
    /// SIGKILL every process group the registry knows (the second signal).
    KillAllGroups,
    /// Process `.0` changed: tell the followers (attach, wait).
    Publish(usize),
    Reply(ReplyTo, Reply),
    /// Record `index` was added (a replica, by `scale`): start its actor, with
    /// the environment and resources made as `template`'s were.
    AddActor { index: usize, template: usize },
}

pub(crate) struct Core<H> {
    pub(crate) records: Vec<ProcessRecord<H>>,
    /// The project root, to show changed paths relative to it.
    root: PathBuf,
    /// Why the run is stopping; None while it is not.
    cause: Option<EndCause>,
    /// After a forced stop: when to give up waiting for exits.
    force_deadline: Option<Instant>,
    gave_up: bool,
    /// `stop` / `restart` requests answered once their processes have stopped.
    pub(super) pending_stops: Vec<(Vec<usize>, ReplyTo)>,
    /// Files are watched (a change may run something again) or --keep-project was given:
    /// the run goes on after everything ended.
    watching: bool,
    /// The ports allocated for this run (shown by `ps`).
    ports: Vec<Allocation>,
    /// How the run keeps hold of its processes (shown by `ps`), once known.
    containment: Option<corral_protocol::Containment>,
}

impl<H: NewActor> Core<H> {
    pub(crate) fn new(records: Vec<ProcessRecord<H>>, root: PathBuf, watching: bool, ports: Vec<Allocation>) -> Core<H> {
        Core { records, root, cause: None, force_deadline: None, gave_up: false, pending_stops: Vec::new(), watching, ports, containment: None }
    }

    /// Says how the run keeps hold of its processes (a cgroup, or process groups).
    pub(crate) fn set_containment(&mut self, containment: corral_protocol::Containment) {
        self.containment = Some(containment);
    }

    /// Every port allocated in this run.
    pub(crate) fn ports_taken(&self) -> Vec<u16> {
        self.ports.iter().map(|a| a.port).collect()
    }

    /// Ports allocated after the run began (for a replica added by `scale`).
    pub(crate) fn add_ports(&mut self, ports: impl IntoIterator<Item = Allocation>) {
        self.ports.extend(ports);
    }

    /// Process `i` as `ps` shows it, at `now`.
    pub(crate) fn info(&self, i: usize, now: Instant) -> corral_protocol::ProcessInfo {
        let mut info = self.records[i].info(now);
        info.ports = self.ports.iter().filter(|a| a.process == i).map(|a| (a.name.clone(), a.port)).collect();
        info.containment = self.containment;
        info
    }

    pub(super) fn name(&self, i: usize) -> &str {
        self.records[i].name()
    }

    pub(super) fn root(&self) -> &std::path::Path {
        &self.root
    }

    pub(super) fn stopping(&self) -> bool {
        self.cause.is_some()
    }

    /// Handles one event; the actions to carry out are appended to `out`
    /// (a buffer the shell reuses, so an event costs no allocation).
    pub(crate) fn handle(&mut self, event: InternalEvent, now: Instant, out: &mut Vec<Action>) {
        match event {
            InternalEvent::Activate => {
                for i in 0..self.records.len() {
                    self.apply(i, Input::Activate, now, out);
                }
            }
            InternalEvent::Actor(i, ev) => self.on_actor(i, ev, now, out),
            InternalEvent::Control(to, ctl) => self.on_control(to, ctl, now, out),
            InternalEvent::FileChanged(i, path) => self.on_change(i, &path, now, out),
            InternalEvent::StopSignal(sig) => self.on_signal(sig, now, out),
            InternalEvent::Tick => self.on_tick(now, out),
        }
        if !self.gave_up {
            self.advance(now, out);
        }
    }

    /// The earliest time the shell must send [`InternalEvent::Tick`].
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.records.iter().filter_map(|r| r.machine.next_deadline()).chain(self.force_deadline).min()
    }

    /// Why the run ended and whether every process that took part succeeded,
    /// once it has ended.
    pub(crate) fn outcome(&self) -> Option<(EndCause, bool)> {
        let all_ended = self.records.iter().all(|r| r.state().is_terminal());
        // Processes stopped on request keep the run alive until started again or `down`.
        let waiting_for_more = self.watching || self.records.iter().any(|r| !r.retired && (r.machine.requests().held || r.machine.requests().restart));
        if !(self.gave_up || all_ended && (self.stopping() || !waiting_for_more)) {
            return None;
        }
        let succeeded = self.records.iter().all(|r| r.retired || matches!(r.state(), State::Completed { .. } | State::Disabled));
        Some((self.cause.unwrap_or(EndCause::Natural), succeeded))
    }

    /// At the end of the run: answers what still waits for an answer.
    pub(crate) fn finish(&mut self, out: &mut Vec<Action>) {
        for (set, to) in std::mem::take(&mut self.pending_stops) {
            out.push(Action::Reply(to, Ok(self.stopped(&set))));
        }
    }

    fn on_signal(&mut self, sig: &str, now: Instant, out: &mut Vec<Action>) {
        if !self.stopping() {
            tracing::info!("received {sig}: stopping every process (send it again to kill them all at once)");
            self.begin_stop(EndCause::Stopped, now, out);
        } else if self.force_deadline.is_none() {
            tracing::warn!("received {sig} again: killing every process group now");
            self.cause = Some(EndCause::Forced);
            out.extend((0..self.records.len()).map(|i| Action::Send(i, ActorCommand::Kill)));
            out.push(Action::KillAllGroups);
            self.force_deadline = Some(now + FORCE_BOUND);
        }
    }

    fn on_tick(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.force_deadline.is_some_and(|d| d <= now) {
            let left: Vec<&str> = self.records.iter().filter(|r| !r.state().is_terminal()).map(|r| r.name()).collect();
            tracing::error!("processes did not exit after SIGKILL: {}; giving up on them", left.join(", "));
            self.gave_up = true;
            return;
        }
        for i in 0..self.records.len() {
            if self.records[i].machine.next_deadline().is_some_and(|d| d <= now) {
                self.apply(i, Input::BackoffElapsed, now, out);
            }
        }
    }

    fn on_actor(&mut self, i: usize, ev: Event, now: Instant, out: &mut Vec<Action>) {
        let r = &mut self.records[i];
        let input = match ev {
            Event::Spawned { pid } => {
                r.run.pid = Some(pid);
                r.run.started = Some(now);
                Input::Spawned { pid }
            }
            Event::SpawnFailed(msg) => {
                tracing::error!("{}: could not start: {msg}", r.name());
                Input::SpawnFailed(msg)
            }
            Event::Exited(exit) => {
                let expected = matches!(r.state(), State::Stopping { .. }) || r.machine.is_success(exit);
                if expected {
                    tracing::info!("{}: exited with {exit}", r.name());
                } else {
                    tracing::warn!("{}: exited with {exit}", r.name());
                }
                r.run.exit = Some(exit);
                Input::Exited(exit)
            }
            Event::Ready => Input::Ready,
            Event::ReadinessFailed(r) => Input::ReadinessFailed(r),
            Event::LivenessFailed(r) => Input::LivenessFailed(r),
            Event::WatchdogExpired(r) => Input::WatchdogExpired(r),
            Event::DaemonPid(pid) => {
                r.run.pid = Some(pid);
                out.push(Action::Publish(i));
                return;
            }
            Event::Status(text) => {
                r.run.status = Some(text);
                out.push(Action::Publish(i));
                return;
            }
        };
        self.apply(i, input, now, out);
    }

    /// Feeds `input` to process `i`'s machine, turns its effects into actions,
    /// and decides what the new state means for the whole run.
    pub(super) fn apply(&mut self, i: usize, input: Input, now: Instant, out: &mut Vec<Action>) {
        let from_dependency = matches!(input, Input::DependencyUnmet(_));
        let r = &mut self.records[i];
        let effects = match r.machine.on(input, now) {
            Ok(e) => e,
            Err(rejected) => {
                tracing::debug!("{}: {rejected}", r.name());
                return;
            }
        };
        let state = r.state();
        log_transition(r.name(), state, self.cause.is_some());
        out.push(Action::Publish(i));
        for effect in effects {
            match effect {
                Effect::Spawn => out.push(Action::Send(i, ActorCommand::Start)),
                Effect::SendStop => {
                    let watchdog = matches!(state, State::Stopping { cause: StopCause::Watchdog(_), .. });
                    out.push(Action::Send(i, if watchdog { ActorCommand::Abort } else { ActorCommand::Stop }));
                }
                // The machine's next_deadline() says when.
                Effect::ScheduleRestart(_) => {}
            }
        }
        if self.stopping() {
            return;
        }
        if let Some(cause) = self.ends_the_run(i) {
            self.begin_stop(cause, now, out);
        } else if let (true, true, State::Skipped { reason }) = (from_dependency, self.records[i].spec.exit_on_skipped, self.records[i].state()) {
            tracing::info!("{}: exit_on_skipped is set: stopping the run ({reason})", self.name(i));
            self.begin_stop(EndCause::ExitOnSkipped, now, out);
        }
    }

    /// `exit_on_end` and `restart: exit_on_failure`: whether process `i`'s new state ends the run.
    fn ends_the_run(&self, i: usize) -> Option<EndCause> {
        let r = &self.records[i];
        let spec = &r.spec;
        match r.state() {
            State::Completed { exit, stopped: false } | State::Failed { exit: Some(exit), .. } if spec.exit_on_end => {
                let status = if r.machine.is_success(*exit) { 0 } else { exit.status() };
                tracing::info!("{}: exit_on_end is set: stopping the run (status {status})", spec.name);
                Some(EndCause::ExitOnEnd(status))
            }
            State::Failed { exit, .. } if spec.exit_on_end || spec.exits_run_on_failure() => {
                let status = exit.map_or(1, |e| e.status());
                let why = if spec.exit_on_end { "exit_on_end" } else { "restart is exit_on_failure" };
                tracing::info!("{}: {why}: stopping the run (status {status})", spec.name);
                Some(if spec.exit_on_end { EndCause::ExitOnEnd(status) } else { EndCause::ExitOnFailure(status) })
            }
            _ => None,
        }
    }

    /// Begins the orderly stop of the whole run.
    pub(super) fn begin_stop(&mut self, cause: EndCause, now: Instant, out: &mut Vec<Action>) {
        if self.stopping() {
            return;
        }
        self.cause = Some(cause);
        for i in 0..self.records.len() {
            self.records[i].machine.drop_requests();
            // Not started, waiting out a backoff, or being stopped by a probe: none of them restarts now.
            let now_ = matches!(
                self.records[i].state(),
                State::Pending
                    | State::Waiting
                    | State::Restarting { .. }
                    | State::Stopping { cause: StopCause::Unready(_) | StopCause::Liveness(_) | StopCause::Watchdog(_), .. }
            );
            if now_ {
                self.apply(i, Input::Stop, now, out);
            }
        }
    }

    /// Starts what can start, skips what never can, and during a stop stops
    /// every process whose dependents have all ended. Repeats until stable.
    pub(crate) fn advance(&mut self, now: Instant, out: &mut Vec<Action>) {
        let mut changed = true;
        while changed {
            changed = self.advance_requests(now, out);
            for i in 0..self.records.len() {
                let state = self.records[i].state();
                if self.stopping() {
                    let live = matches!(state, State::Starting | State::Running { .. } | State::Ready { .. });
                    if live && self.records[i].spec.dependents.iter().all(|&d| self.records[d].state().is_terminal()) {
                        self.apply(i, Input::Stop, now, out);
                        changed = true;
                    }
                } else if matches!(state, State::Waiting) && !self.records[i].machine.requests().stop {
                    if let Some(input) = self.dependency_input(i) {
                        self.apply(i, input, now, out);
                        changed = true;
                    }
                }
            }
        }
    }

    /// `DependenciesMet`, `DependencyUnmet`, or None while still waiting.
    fn dependency_input(&self, i: usize) -> Option<Input> {
        let mut all_met = true;
        for &(d, cond) in &self.records[i].spec.dependencies {
            let dep = &self.records[d];
            if dep.retired {
                continue;
            }
            match check_condition(cond, dep.name(), dep.state(), dep.machine.was_ready()) {
                DepCheck::Met => {}
                DepCheck::Pending => all_met = false,
                DepCheck::Never(reason) => return Some(Input::DependencyUnmet(reason)),
            }
        }
        all_met.then_some(Input::DependenciesMet)
    }
}

/// One line per meaningful transition, in words.
fn log_transition(name: &str, state: &State, stopping: bool) {
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
        State::Skipped { reason } if !stopping => tracing::warn!("{name}: skipped: {reason}"),
        State::Skipped { reason } => tracing::debug!("{name}: skipped: {reason}"),
    }
}
