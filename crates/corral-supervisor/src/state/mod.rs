//! The lifecycle of one process as an explicit, pure state machine.
//!
//! No I/O: the dispatcher feeds it [`Input`]s (what happened, with the time it
//! happened) and carries out the [`Effect`]s it returns (what to do). Keeping
//! every decision here (dependencies, readiness, restarts, stopping) makes each
//! transition testable without spawning anything, and the rules readable in
//! one place. An input that makes no sense in the current state is rejected,
//! not silently absorbed, so a wiring bug shows up in the debug log.
//!
//! ```text
//! pending ─► waiting ─► starting ─► running ─► ready
//!    │          │           │          │  ▲       │
//!    ▼          ▼           ▼          ▼  └───────┤ (probe fails: stopping, then restart policy)
//! disabled   skipped     failed    stopping ◄─────┘
//!                                      │
//!            completed / failed ◄──────┴──► restarting ─► starting …
//! ```

mod conditions;
#[cfg(test)]
mod tests;

use std::fmt;
use std::time::{Duration, Instant};

pub(crate) use conditions::{check_condition, DepCheck};
pub(crate) use corral_config::plan::RestartRules;

/// How a process ended, from its wait status: the protocol's typed exit.
pub(crate) use corral_protocol::Exit as ExitKind;

/// Why a process is being stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StopCause {
    /// The run is stopping: no restart afterwards.
    Shutdown,
    /// Its readiness probe kept failing: the restart policy applies afterwards.
    Unready(String),
    /// Its liveness probe kept failing: it is restarted afterwards, whatever the policy.
    Liveness(String),
    /// Its watchdog expired: it gets the watchdog signal; the restart policy applies afterwards.
    Watchdog(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum State {
    /// Known, but the run has not begun (the pre_hook may still be running).
    Pending,
    /// Not part of this run: `disabled` and not named on the command line.
    Disabled,
    /// Waiting for its dependencies' conditions.
    Waiting,
    /// Spawn requested; no pid yet.
    Starting,
    /// Running; not (yet) ready, or it has no readiness check.
    Running { pid: i32 },
    /// Its readiness check passed (`readiness_probe` or `ready_log_line`).
    Ready { pid: i32 },
    /// Waiting out the backoff before restart number `attempt`.
    Restarting { attempt: u32, delay: Duration },
    /// Asked to stop; `pid` is None while the spawn is still in flight.
    Stopping { pid: Option<i32>, cause: StopCause },
    /// Ended successfully by itself, or ended after the run asked it to stop.
    Completed { exit: ExitKind, stopped: bool },
    /// Ended otherwise and will not be restarted, or could not be started (`exit` None).
    Failed { exit: Option<ExitKind>, reason: String },
    /// Never started: a dependency's condition can no longer be met, or the run stopped first.
    Skipped { reason: String },
}

impl State {
    /// A state the process never leaves in this run.
    pub(crate) fn is_terminal(&self) -> bool {
        matches!(self, State::Disabled | State::Completed { .. } | State::Failed { .. } | State::Skipped { .. })
    }

    /// The state as clients see it (the protocol's word for it).
    pub(crate) fn public(&self) -> corral_protocol::ProcessState {
        use corral_protocol::ProcessState as P;
        match self {
            State::Pending => P::Pending,
            State::Disabled => P::Disabled,
            State::Waiting => P::Waiting,
            State::Starting => P::Starting,
            State::Running { .. } => P::Running,
            State::Ready { .. } => P::Ready,
            State::Restarting { .. } => P::Restarting,
            State::Stopping { .. } => P::Stopping,
            State::Completed { .. } => P::Completed,
            State::Failed { .. } => P::Failed,
            State::Skipped { .. } => P::Skipped,
        }
    }

    /// Short name for logs and tables.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Disabled => "disabled",
            State::Waiting => "waiting",
            State::Starting => "starting",
            State::Running { .. } => "running",
            State::Ready { .. } => "ready",
            State::Restarting { .. } => "restarting",
            State::Stopping { .. } => "stopping",
            State::Completed { .. } => "completed",
            State::Failed { .. } => "failed",
            State::Skipped { .. } => "skipped",
        }
    }
}

/// Something that happened to the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Input {
    /// The run has begun (the pre_hook succeeded).
    Activate,
    /// Every dependency's condition is met.
    DependenciesMet,
    /// A dependency's condition can never be met; the reason says which and why.
    DependencyUnmet(String),
    Spawned { pid: i32 },
    SpawnFailed(String),
    Exited(ExitKind),
    /// The readiness check passed (probe thresholds met, or the log line appeared).
    Ready,
    /// The readiness probe failed `failure_threshold` times in a row.
    ReadinessFailed(String),
    /// The liveness probe failed `failure_threshold` times in a row.
    LivenessFailed(String),
    /// No `WATCHDOG=1` within the watchdog timeout (or `WATCHDOG=trigger`).
    WatchdogExpired(String),
    /// The backoff before a restart is over.
    BackoffElapsed,
    /// Stop: the run is stopping and this process's dependents have all ended,
    /// or someone asked (`corral stop`).
    Stop,
    /// Start again after it ended, was skipped or disabled (`corral start`).
    Start,
}

/// What the dispatcher must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    Spawn,
    /// Run the stop sequence (command or signal, then SIGKILL after the timeout).
    SendStop,
    /// A restart is due after this long; [`Machine::next_deadline`] says when.
    ScheduleRestart(Duration),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejected {
    pub(crate) state: &'static str,
    pub(crate) input: Input,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ignored {:?} in state {}", self.input, self.state)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Machine {
    state: State,
    enabled: bool,
    success_codes: Vec<u8>,
    rules: RestartRules,
    /// Restarts in a row (reset by a stable run).
    restarts: u32,
    started_at: Option<Instant>,
    last_exit: Option<ExitKind>,
    /// When the backoff of a `Restarting` process is over.
    restart_at: Option<Instant>,
    was_ready: bool,
    /// What an operator (or a file change) asked and is not done yet.
    requests: Requests,
}

/// An operator's requests to a process (`corral stop`, `restart`, `start`, a
/// file change). They do not change the lifecycle state by themselves: the
/// dispatcher feeds [`Input::Stop`] once the process's dependents have
/// stopped, and [`Input::Start`] once it has ended, when a restart was asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Requests {
    /// Stopped on request: stays ended until started, and keeps the run alive.
    pub(crate) held: bool,
    /// To be stopped (in reverse dependency order).
    pub(crate) stop: bool,
    /// To be started again once stopped.
    pub(crate) restart: bool,
}

impl Machine {
    pub(crate) fn new(enabled: bool, success_codes: Vec<u8>, rules: RestartRules) -> Machine {
        Machine {
            state: State::Pending,
            enabled,
            success_codes,
            rules,
            restarts: 0,
            started_at: None,
            last_exit: None,
            restart_at: None,
            was_ready: false,
            requests: Requests::default(),
        }
    }

    /// When this machine next needs [`Input::BackoffElapsed`], if it waits for a time.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        match self.state {
            State::Restarting { .. } => self.restart_at,
            _ => None,
        }
    }

    pub(crate) fn requests(&self) -> Requests {
        self.requests
    }

    /// Asks for a stop: `hold` keeps it stopped afterwards (`corral stop`);
    /// `restart` starts it again once it has ended.
    pub(crate) fn request_stop(&mut self, hold: bool, restart: bool) {
        let r = &mut self.requests;
        r.stop = true;
        r.held |= hold;
        r.restart |= restart;
    }

    /// `corral start`: no longer held, no stop pending.
    pub(crate) fn release(&mut self) {
        self.requests.held = false;
        self.requests.stop = false;
    }

    /// The stop asked for is done (the process has ended): true when it must start again.
    pub(crate) fn stop_done(&mut self) -> bool {
        let again = self.requests.restart;
        self.requests.stop = false;
        self.requests.restart = false;
        if again {
            self.requests.held = false;
        }
        again
    }

    /// The run is stopping: pending stops and restarts no longer matter (held stays).
    pub(crate) fn drop_requests(&mut self) {
        self.requests.stop = false;
        self.requests.restart = false;
    }

    pub(crate) fn state(&self) -> &State {
        &self.state
    }

    /// Whether the readiness check has passed at least once in this run.
    pub(crate) fn was_ready(&self) -> bool {
        self.was_ready
    }

    /// Restarts in a row so far.
    pub(crate) fn restarts(&self) -> u32 {
        self.restarts
    }

    pub(crate) fn is_success(&self, exit: ExitKind) -> bool {
        matches!(exit, ExitKind::Code(c) if self.success_codes.contains(&c))
    }

    /// Applies `input`, which happened at `now`; returns the effects to carry
    /// out. On rejection the machine is unchanged.
    pub(crate) fn on(&mut self, input: Input, now: Instant) -> Result<Vec<Effect>, Rejected> {
        use State as S;
        let reject = |s: &State, input: Input| Err(Rejected { state: s.name(), input });
        let (next, effects) = match (&self.state, input) {
            (S::Pending, Input::Activate) if self.enabled => (S::Waiting, vec![]),
            (S::Pending, Input::Activate) => (S::Disabled, vec![]),
            (S::Pending | S::Waiting, Input::Stop) => (S::Skipped { reason: "stopped before it started".into() }, vec![]),
            (S::Disabled | S::Completed { .. } | S::Failed { .. } | S::Skipped { .. }, Input::Start) => {
                self.restarts = 0;
                self.was_ready = false;
                (S::Waiting, vec![])
            }
            (S::Waiting, Input::DependenciesMet) => (S::Starting, vec![Effect::Spawn]),
            (S::Waiting, Input::DependencyUnmet(reason)) => (S::Skipped { reason }, vec![]),

            (S::Starting, Input::Spawned { pid }) => {
                self.started_at = Some(now);
                (S::Running { pid }, vec![])
            }
            (S::Starting, Input::SpawnFailed(reason)) => self.after_run(None, reason, false, now),
            (S::Starting, Input::Stop) => (S::Stopping { pid: None, cause: StopCause::Shutdown }, vec![Effect::SendStop]),

            (S::Running { pid }, Input::Ready) => {
                self.was_ready = true;
                (S::Ready { pid: *pid }, vec![])
            }
            (S::Ready { .. }, Input::Ready) => return Ok(vec![]),
            (S::Running { pid } | S::Ready { pid }, Input::ReadinessFailed(r)) => {
                (S::Stopping { pid: Some(*pid), cause: StopCause::Unready(r) }, vec![Effect::SendStop])
            }
            (S::Running { pid } | S::Ready { pid }, Input::LivenessFailed(r)) => {
                (S::Stopping { pid: Some(*pid), cause: StopCause::Liveness(r) }, vec![Effect::SendStop])
            }
            (S::Running { pid } | S::Ready { pid }, Input::WatchdogExpired(r)) => {
                (S::Stopping { pid: Some(*pid), cause: StopCause::Watchdog(r) }, vec![Effect::SendStop])
            }
            (S::Running { .. } | S::Ready { .. }, Input::Exited(exit)) => {
                let succeeded = self.is_success(exit);
                self.after_run(Some(exit), format!("exited with {exit}"), succeeded, now)
            }
            (S::Running { pid } | S::Ready { pid }, Input::Stop) => {
                (S::Stopping { pid: Some(*pid), cause: StopCause::Shutdown }, vec![Effect::SendStop])
            }

            (S::Stopping { pid: None, cause }, Input::Spawned { pid }) => {
                self.started_at = Some(now);
                (S::Stopping { pid: Some(pid), cause: cause.clone() }, vec![])
            }
            (S::Stopping { pid: None, .. }, Input::SpawnFailed(reason)) => (S::Failed { exit: None, reason }, vec![]),
            (S::Stopping { cause: StopCause::Shutdown, .. }, Input::Exited(exit)) => {
                self.last_exit = Some(exit);
                (S::Completed { exit, stopped: true }, vec![])
            }
            (S::Stopping { cause: StopCause::Unready(r), .. }, Input::Exited(exit)) => {
                let reason = format!("not ready: {r}");
                self.after_run(Some(exit), reason, false, now)
            }
            (S::Stopping { cause: StopCause::Watchdog(r), .. }, Input::Exited(exit)) => {
                let reason = format!("watchdog: {r}");
                self.after_run(Some(exit), reason, false, now)
            }
            (S::Stopping { cause: StopCause::Liveness(r), .. }, Input::Exited(exit)) => {
                let reason = format!("not alive: {r}");
                self.restart_or_give_up(Some(exit), reason, false, now)
            }
            // The run is stopping while a probe-triggered stop is under way: no restart after it.
            (S::Stopping { pid, cause: StopCause::Unready(_) | StopCause::Liveness(_) | StopCause::Watchdog(_) }, Input::Stop) => {
                (S::Stopping { pid: *pid, cause: StopCause::Shutdown }, vec![])
            }
            (S::Stopping { cause: StopCause::Shutdown, .. }, Input::Stop) => return Ok(vec![]),

            (S::Restarting { .. }, Input::BackoffElapsed) => (S::Starting, vec![Effect::Spawn]),
            (S::Restarting { .. }, Input::Stop) => {
                (S::Completed { exit: self.last_exit.unwrap_or(ExitKind::Code(0)), stopped: true }, vec![])
            }

            (s, Input::Stop) if s.is_terminal() => return Ok(vec![]),
            (s, input) => return reject(s, input),
        };
        self.state = next;
        Ok(effects)
    }

    /// A run ended by itself (`exit` None: it could not start). The restart
    /// policy decides between another run and a final state.
    fn after_run(&mut self, exit: Option<ExitKind>, reason: String, succeeded: bool, now: Instant) -> (State, Vec<Effect>) {
        self.last_exit = exit;
        if self.rules.wants_restart(succeeded) {
            return self.restart_or_give_up(exit, reason, succeeded, now);
        }
        self.restarts = 0;
        match exit {
            Some(exit) if succeeded => (State::Completed { exit, stopped: false }, vec![]),
            _ => (State::Failed { exit, reason }, vec![]),
        }
    }

    /// Schedules the next run, unless `max_restarts` is used up. Giving up after
    /// a run that `succeeded` (under `restart: always`) completes; otherwise it fails.
    fn restart_or_give_up(&mut self, exit: Option<ExitKind>, reason: String, succeeded: bool, now: Instant) -> (State, Vec<Effect>) {
        self.last_exit = exit;
        if self.started_at.is_some_and(|t| now.saturating_duration_since(t) >= self.rules.stable_after) {
            self.restarts = 0;
        }
        let attempt = self.restarts + 1;
        if !self.rules.allows(attempt) {
            return match exit {
                Some(exit) if succeeded => (State::Completed { exit, stopped: false }, vec![]),
                _ => {
                    let reason = format!("gave up after {} restart(s) in a row; last: {reason}", self.restarts);
                    (State::Failed { exit, reason }, vec![])
                }
            };
        }
        self.restarts = attempt;
        let delay = self.rules.delay(attempt);
        self.restart_at = Some(now + delay);
        (State::Restarting { attempt, delay }, vec![Effect::ScheduleRestart(delay)])
    }
}
