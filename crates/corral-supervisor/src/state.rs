//! The lifecycle of one process as an explicit, pure state machine.
//!
//! No I/O and no clocks: the dispatcher feeds it [`Input`]s (what happened) and
//! carries out the [`Effect`]s it returns (what to do). Keeping every decision
//! here makes each transition testable without spawning anything, and makes the
//! rules readable in one place. An input that makes no sense in the current
//! state is rejected, not silently absorbed, so a wiring bug shows up in logs.

use std::fmt;

use corral_config::Condition;

/// How a process ended, from its wait status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    Code(u8),
    Signal(i32),
}

impl ExitKind {
    /// The shell convention: the exit code, or 128 + the signal number.
    pub fn status(self) -> i32 {
        match self {
            ExitKind::Code(c) => i32::from(c),
            ExitKind::Signal(s) => 128 + s,
        }
    }
}

impl fmt::Display for ExitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitKind::Code(c) => write!(f, "status {c}"),
            ExitKind::Signal(s) => match corral_config::Signal::from_number(i64::from(*s)) {
                Some(sig) => write!(f, "signal {sig}"),
                None => write!(f, "signal {s}"),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Known, but the run has not begun (the pre_hook may still be running).
    Pending,
    /// Not part of this run: `disabled` and not named on the command line.
    Disabled,
    /// Waiting for its dependencies' conditions.
    Waiting,
    /// Spawn requested; no pid yet.
    Starting,
    Running { pid: i32 },
    /// Asked to stop; `pid` is None while the spawn is still in flight.
    Stopping { pid: Option<i32> },
    /// Ended successfully by itself, or ended after corral asked it to stop.
    Completed { exit: ExitKind, stopped: bool },
    /// Ended by itself with a status not in `success_exit_codes`, or could not be started.
    Failed { exit: Option<ExitKind>, reason: String },
    /// Never started because a dependency's condition can no longer be met, or the
    /// run stopped first.
    Skipped { reason: String },
}

impl State {
    /// A state the process never leaves in this run.
    pub fn is_terminal(&self) -> bool {
        matches!(self, State::Disabled | State::Completed { .. } | State::Failed { .. } | State::Skipped { .. })
    }

    /// Short name for logs and tables.
    pub fn name(&self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Disabled => "disabled",
            State::Waiting => "waiting",
            State::Starting => "starting",
            State::Running { .. } => "running",
            State::Stopping { .. } => "stopping",
            State::Completed { .. } => "completed",
            State::Failed { .. } => "failed",
            State::Skipped { .. } => "skipped",
        }
    }
}

/// Something that happened to the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The run has begun (the pre_hook succeeded).
    Activate,
    /// Every dependency's condition is met.
    DependenciesMet,
    /// A dependency's condition can never be met; the reason says which and why.
    DependencyUnmet(String),
    Spawned { pid: i32 },
    SpawnFailed(String),
    Exited(ExitKind),
    /// The run is stopping and this process's dependents have all ended.
    Stop,
}

/// What the dispatcher must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Spawn,
    /// Run the shutdown sequence (command or signal, then SIGKILL after the timeout).
    SendStop,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub state: &'static str,
    pub input: Input,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "input {:?} is not valid in state {}", self.input, self.state)
    }
}

#[derive(Debug, Clone)]
pub struct Machine {
    state: State,
    enabled: bool,
    success_codes: Vec<u8>,
}

impl Machine {
    pub fn new(enabled: bool, success_codes: Vec<u8>) -> Machine {
        Machine { state: State::Pending, enabled, success_codes }
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn is_success(&self, exit: ExitKind) -> bool {
        matches!(exit, ExitKind::Code(c) if self.success_codes.contains(&c))
    }

    /// Applies `input`; returns the effects to carry out. On rejection the state is unchanged.
    pub fn on(&mut self, input: Input) -> Result<Vec<Effect>, Rejected> {
        use State as S;
        let (next, effects) = match (&self.state, &input) {
            (S::Pending, Input::Activate) if self.enabled => (S::Waiting, vec![]),
            (S::Pending, Input::Activate) => (S::Disabled, vec![]),
            (S::Pending | S::Waiting, Input::Stop) => {
                (S::Skipped { reason: "not started: the run is stopping".into() }, vec![])
            }
            (S::Waiting, Input::DependenciesMet) => (S::Starting, vec![Effect::Spawn]),
            (S::Waiting, Input::DependencyUnmet(reason)) => (S::Skipped { reason: reason.clone() }, vec![]),
            (S::Starting, Input::Spawned { pid }) => (S::Running { pid: *pid }, vec![]),
            (S::Starting | S::Stopping { pid: None }, Input::SpawnFailed(reason)) => {
                (S::Failed { exit: None, reason: reason.clone() }, vec![])
            }
            (S::Starting, Input::Stop) => (S::Stopping { pid: None }, vec![Effect::SendStop]),
            (S::Stopping { pid: None }, Input::Spawned { pid }) => (S::Stopping { pid: Some(*pid) }, vec![]),
            (S::Running { .. }, Input::Exited(exit)) => {
                if self.is_success(*exit) {
                    (S::Completed { exit: *exit, stopped: false }, vec![])
                } else {
                    (S::Failed { exit: Some(*exit), reason: format!("exited with {exit}") }, vec![])
                }
            }
            (S::Running { pid }, Input::Stop) => (S::Stopping { pid: Some(*pid) }, vec![Effect::SendStop]),
            (S::Stopping { .. }, Input::Exited(exit)) => (S::Completed { exit: *exit, stopped: true }, vec![]),
            // Stopping twice, or stopping what has already ended, changes nothing.
            (S::Stopping { .. }, Input::Stop) => return Ok(vec![]),
            (s, Input::Stop) if s.is_terminal() => return Ok(vec![]),
            (s, _) => return Err(Rejected { state: s.name(), input }),
        };
        self.state = next;
        Ok(effects)
    }
}

/// Whether a dependency's condition holds, given the dependency's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DepCheck {
    Met,
    /// Not yet; it may still be met.
    Pending,
    /// It can never be met in this run.
    Never(String),
}

/// Evaluates `condition` against the state of the dependency named `dep`.
pub fn check_condition(condition: Condition, dep: &str, state: &State) -> DepCheck {
    use State as S;
    let never = |why: String| DepCheck::Never(format!("dependency {dep} {why} ({} required)", condition.as_str()));
    match state {
        S::Disabled => return never("is disabled".into()),
        S::Skipped { .. } => return never("was skipped".into()),
        S::Failed { exit: None, reason } => return never(format!("could not start: {reason}")),
        _ => {}
    }
    match condition {
        Condition::ProcessStarted => match state {
            S::Running { .. } | S::Stopping { pid: Some(_) } | S::Completed { .. } | S::Failed { .. } => DepCheck::Met,
            _ => DepCheck::Pending,
        },
        Condition::ProcessCompleted => match state {
            S::Completed { .. } | S::Failed { .. } => DepCheck::Met,
            _ => DepCheck::Pending,
        },
        Condition::ProcessCompletedSuccessfully => match state {
            S::Completed { stopped: false, .. } => DepCheck::Met,
            S::Completed { stopped: true, exit } => never(format!("was stopped ({exit})")),
            S::Failed { reason, .. } => never(format!("failed: {reason}")),
            _ => DepCheck::Pending,
        },
        // Rejected at load time until readiness checks exist; never reached.
        Condition::ProcessHealthy | Condition::ProcessLogReady => {
            never("has no readiness check in this corral".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Effect::*;
    use ExitKind::*;

    fn machine_in(inputs: &[Input]) -> Machine {
        let mut m = Machine::new(true, vec![0, 3]);
        for i in inputs {
            m.on(i.clone()).unwrap();
        }
        m
    }

    fn running() -> Machine {
        machine_in(&[Input::Activate, Input::DependenciesMet, Input::Spawned { pid: 42 }])
    }

    #[test]
    fn activation_waits_or_disables() {
        let mut m = Machine::new(true, vec![0]);
        assert_eq!(m.on(Input::Activate), Ok(vec![]));
        assert_eq!(m.state(), &State::Waiting);
        let mut d = Machine::new(false, vec![0]);
        d.on(Input::Activate).unwrap();
        assert_eq!(d.state(), &State::Disabled);
        assert!(d.state().is_terminal());
    }

    #[test]
    fn dependencies_met_spawns_then_runs() {
        let mut m = machine_in(&[Input::Activate]);
        assert_eq!(m.on(Input::DependenciesMet), Ok(vec![Spawn]));
        assert_eq!(m.state(), &State::Starting);
        assert_eq!(m.on(Input::Spawned { pid: 7 }), Ok(vec![]));
        assert_eq!(m.state(), &State::Running { pid: 7 });
    }

    #[test]
    fn unmet_dependency_skips() {
        let mut m = machine_in(&[Input::Activate]);
        m.on(Input::DependencyUnmet("db failed".into())).unwrap();
        assert_eq!(m.state(), &State::Skipped { reason: "db failed".into() });
    }

    #[test]
    fn spawn_failure_fails() {
        let mut m = machine_in(&[Input::Activate, Input::DependenciesMet]);
        m.on(Input::SpawnFailed("no such dir".into())).unwrap();
        assert_eq!(m.state(), &State::Failed { exit: None, reason: "no such dir".into() });
    }

    #[test]
    fn exit_with_success_code_completes() {
        for code in [0, 3] {
            let mut m = running();
            m.on(Input::Exited(Code(code))).unwrap();
            assert_eq!(m.state(), &State::Completed { exit: Code(code), stopped: false });
        }
    }

    #[test]
    fn exit_with_other_code_or_signal_fails() {
        let mut m = running();
        m.on(Input::Exited(Code(1))).unwrap();
        assert!(matches!(m.state(), State::Failed { exit: Some(Code(1)), .. }));
        let mut m = running();
        m.on(Input::Exited(Signal(9))).unwrap();
        assert!(matches!(m.state(), State::Failed { reason, .. } if reason == "exited with signal SIGKILL"));
    }

    #[test]
    fn stop_while_running_then_exit_completes_as_stopped() {
        let mut m = running();
        assert_eq!(m.on(Input::Stop), Ok(vec![SendStop]));
        assert_eq!(m.state(), &State::Stopping { pid: Some(42) });
        assert_eq!(m.on(Input::Stop), Ok(vec![]), "a second stop is absorbed");
        m.on(Input::Exited(Signal(15))).unwrap();
        assert_eq!(m.state(), &State::Completed { exit: Signal(15), stopped: true });
    }

    #[test]
    fn stop_while_starting_waits_for_the_pid() {
        let mut m = machine_in(&[Input::Activate, Input::DependenciesMet]);
        assert_eq!(m.on(Input::Stop), Ok(vec![SendStop]));
        assert_eq!(m.state(), &State::Stopping { pid: None });
        m.on(Input::Spawned { pid: 9 }).unwrap();
        assert_eq!(m.state(), &State::Stopping { pid: Some(9) });
        m.on(Input::Exited(Code(0))).unwrap();
        assert!(matches!(m.state(), State::Completed { stopped: true, .. }));
        let mut m = machine_in(&[Input::Activate, Input::DependenciesMet, Input::Stop]);
        m.on(Input::SpawnFailed("x".into())).unwrap();
        assert!(matches!(m.state(), State::Failed { exit: None, .. }));
    }

    #[test]
    fn stop_before_start_skips() {
        for prefix in [&[][..], &[Input::Activate][..]] {
            let mut m = machine_in(prefix);
            assert_eq!(m.on(Input::Stop), Ok(vec![]));
            assert!(matches!(m.state(), State::Skipped { .. }));
        }
    }

    #[test]
    fn stop_after_the_end_changes_nothing() {
        let mut m = running();
        m.on(Input::Exited(Code(0))).unwrap();
        let before = m.state().clone();
        assert_eq!(m.on(Input::Stop), Ok(vec![]));
        assert_eq!(m.state(), &before);
    }

    #[test]
    fn nonsense_inputs_are_rejected_and_change_nothing() {
        let mut m = machine_in(&[Input::Activate]);
        let err = m.on(Input::Exited(Code(0))).unwrap_err();
        assert_eq!(err.state, "waiting");
        assert_eq!(m.state(), &State::Waiting);
        let mut m = running();
        assert!(m.on(Input::DependenciesMet).is_err());
        assert!(m.on(Input::Activate).is_err());
        m.on(Input::Exited(Code(0))).unwrap();
        assert!(m.on(Input::Exited(Code(0))).is_err());
        assert!(Machine::new(true, vec![0]).on(Input::Spawned { pid: 1 }).is_err());
    }

    #[test]
    fn conditions_against_states() {
        use Condition::*;
        let done_ok = State::Completed { exit: Code(0), stopped: false };
        let failed = State::Failed { exit: Some(Code(2)), reason: "exited with status 2".into() };
        let running = State::Running { pid: 1 };
        assert_eq!(check_condition(ProcessStarted, "db", &State::Waiting), DepCheck::Pending);
        assert_eq!(check_condition(ProcessStarted, "db", &running), DepCheck::Met);
        assert_eq!(check_condition(ProcessStarted, "db", &failed), DepCheck::Met);
        assert_eq!(check_condition(ProcessCompleted, "db", &running), DepCheck::Pending);
        assert_eq!(check_condition(ProcessCompleted, "db", &failed), DepCheck::Met);
        assert_eq!(check_condition(ProcessCompletedSuccessfully, "db", &done_ok), DepCheck::Met);
        match check_condition(ProcessCompletedSuccessfully, "db", &failed) {
            DepCheck::Never(r) => assert_eq!(r, "dependency db failed: exited with status 2 (process_completed_successfully required)"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(check_condition(ProcessStarted, "db", &State::Disabled), DepCheck::Never(_)));
        assert!(matches!(check_condition(ProcessCompleted, "db", &State::Skipped { reason: "x".into() }), DepCheck::Never(_)));
        let no_start = State::Failed { exit: None, reason: "no such dir".into() };
        assert!(matches!(check_condition(ProcessCompleted, "db", &no_start), DepCheck::Never(_)));
    }
}
