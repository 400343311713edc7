//! Every transition of the machine.

use std::time::{Duration, Instant};

use corral_config::RestartPolicy;

use super::*;
use Effect::*;
use ExitKind::*;

fn rules(policy: RestartPolicy, max: u32) -> RestartRules {
    RestartRules { policy, max_restarts: max, backoff: Duration::from_secs(1), backoff_max: Duration::from_secs(4), stable_after: Duration::from_secs(10) }
}

struct T {
    m: Machine,
    now: Instant,
}

impl T {
    fn new(policy: RestartPolicy, max: u32) -> T {
        T { m: Machine::new(true, vec![0, 3], rules(policy, max)), now: Instant::now() }
    }
    fn on(&mut self, i: Input) -> Vec<Effect> {
        self.m.on(i, self.now).unwrap_or_else(|e| panic!("{e}"))
    }
    fn after(&mut self, secs: u64) -> &mut T {
        self.now += Duration::from_secs(secs);
        self
    }
    fn running(policy: RestartPolicy, max: u32) -> T {
        let mut t = T::new(policy, max);
        t.on(Input::Activate);
        t.on(Input::DependenciesMet);
        t.on(Input::Spawned { pid: 42 });
        t
    }
    fn state(&self) -> &State {
        self.m.state()
    }
}

fn no() -> RestartPolicy {
    RestartPolicy::No
}

#[test]
fn activation_waits_or_disables() {
    let mut t = T::new(no(), 0);
    assert_eq!(t.on(Input::Activate), vec![]);
    assert_eq!(t.state(), &State::Waiting);
    let mut d = Machine::new(false, vec![0], RestartRules::never());
    d.on(Input::Activate, Instant::now()).unwrap();
    assert_eq!(d.state(), &State::Disabled);
    assert!(d.state().is_terminal());
}

#[test]
fn dependencies_met_spawns_then_runs() {
    let mut t = T::new(no(), 0);
    t.on(Input::Activate);
    assert_eq!(t.on(Input::DependenciesMet), vec![Spawn]);
    assert_eq!(t.state(), &State::Starting);
    t.on(Input::Spawned { pid: 7 });
    assert_eq!(t.state(), &State::Running { pid: 7 });
}

#[test]
fn unmet_dependency_skips() {
    let mut t = T::new(no(), 0);
    t.on(Input::Activate);
    t.on(Input::DependencyUnmet("db failed".into()));
    assert_eq!(t.state(), &State::Skipped { reason: "db failed".into() });
}

#[test]
fn spawn_failure_fails_or_restarts() {
    let mut t = T::new(no(), 0);
    t.on(Input::Activate);
    t.on(Input::DependenciesMet);
    t.on(Input::SpawnFailed("no such dir".into()));
    assert_eq!(t.state(), &State::Failed { exit: None, reason: "no such dir".into() });
    let mut t = T::new(RestartPolicy::OnFailure, 0);
    t.on(Input::Activate);
    t.on(Input::DependenciesMet);
    assert_eq!(t.on(Input::SpawnFailed("no such dir".into())), vec![ScheduleRestart(Duration::from_secs(1))]);
}

#[test]
fn exit_with_success_code_completes() {
    for code in [0, 3] {
        let mut t = T::running(no(), 0);
        t.on(Input::Exited(Code(code)));
        assert_eq!(t.state(), &State::Completed { exit: Code(code), stopped: false });
    }
}

#[test]
fn exit_with_other_code_or_signal_fails() {
    let mut t = T::running(no(), 0);
    t.on(Input::Exited(Code(1)));
    assert!(matches!(t.state(), State::Failed { exit: Some(Code(1)), .. }));
    let mut t = T::running(no(), 0);
    t.on(Input::Exited(Signal(9)));
    assert!(matches!(t.state(), State::Failed { reason, .. } if reason == "exited with signal SIGKILL"));
}

#[test]
fn ready_then_exit() {
    let mut t = T::running(no(), 0);
    assert!(!t.m.was_ready());
    t.on(Input::Ready);
    assert_eq!(t.state(), &State::Ready { pid: 42 });
    assert!(t.m.was_ready());
    assert_eq!(t.on(Input::Ready), vec![], "ready again changes nothing");
    t.on(Input::Exited(Code(0)));
    assert!(matches!(t.state(), State::Completed { stopped: false, .. }));
    assert!(t.m.was_ready(), "once ready stays recorded");
}

#[test]
fn shutdown_stop_from_running_or_ready() {
    for ready in [false, true] {
        let mut t = T::running(RestartPolicy::Always, 0);
        if ready {
            t.on(Input::Ready);
        }
        assert_eq!(t.on(Input::Stop), vec![SendStop]);
        assert_eq!(t.state(), &State::Stopping { pid: Some(42), cause: StopCause::Shutdown });
        assert_eq!(t.on(Input::Stop), vec![], "a second stop is absorbed");
        assert_eq!(t.on(Input::Exited(Signal(15))), vec![], "never restarted once stopping");
        assert_eq!(t.state(), &State::Completed { exit: Signal(15), stopped: true });
    }
}

#[test]
fn stop_while_starting_waits_for_the_pid() {
    let mut t = T::new(no(), 0);
    t.on(Input::Activate);
    t.on(Input::DependenciesMet);
    assert_eq!(t.on(Input::Stop), vec![SendStop]);
    assert_eq!(t.state(), &State::Stopping { pid: None, cause: StopCause::Shutdown });
    t.on(Input::Spawned { pid: 9 });
    assert_eq!(t.state(), &State::Stopping { pid: Some(9), cause: StopCause::Shutdown });
    t.on(Input::Exited(Code(0)));
    assert!(matches!(t.state(), State::Completed { stopped: true, .. }));
    let mut t = T::new(no(), 0);
    t.on(Input::Activate);
    t.on(Input::DependenciesMet);
    t.on(Input::Stop);
    t.on(Input::SpawnFailed("x".into()));
    assert!(matches!(t.state(), State::Failed { exit: None, .. }));
}

#[test]
fn stop_before_start_skips() {
    let mut t = T::new(no(), 0);
    assert_eq!(t.on(Input::Stop), vec![]);
    assert!(matches!(t.state(), State::Skipped { .. }));
    let mut t = T::new(no(), 0);
    t.on(Input::Activate);
    t.on(Input::Stop);
    assert!(matches!(t.state(), State::Skipped { .. }));
}

#[test]
fn stop_after_the_end_changes_nothing() {
    let mut t = T::running(no(), 0);
    t.on(Input::Exited(Code(0)));
    let before = t.state().clone();
    assert_eq!(t.on(Input::Stop), vec![]);
    assert_eq!(t.state(), &before);
}

#[test]
fn on_failure_restarts_failures_only() {
    let mut t = T::running(RestartPolicy::OnFailure, 0);
    assert_eq!(t.on(Input::Exited(Code(1))), vec![ScheduleRestart(Duration::from_secs(1))]);
    assert_eq!(t.state(), &State::Restarting { attempt: 1, delay: Duration::from_secs(1) });
    assert_eq!(t.on(Input::BackoffElapsed), vec![Spawn]);
    assert_eq!(t.state(), &State::Starting);
    t.on(Input::Spawned { pid: 43 });
    t.on(Input::Exited(Code(0)));
    assert_eq!(t.state(), &State::Completed { exit: Code(0), stopped: false });
}

#[test]
fn always_restarts_success_too_with_growing_backoff() {
    let mut t = T::running(RestartPolicy::Always, 0);
    let mut delays = vec![];
    for _ in 0..4 {
        match t.on(Input::Exited(Code(0))).as_slice() {
            [ScheduleRestart(d)] => delays.push(d.as_secs()),
            other => panic!("{other:?}"),
        }
        t.on(Input::BackoffElapsed);
        t.on(Input::Spawned { pid: 1 });
    }
    assert_eq!(delays, [1, 2, 4, 4]);
    assert_eq!(t.m.restarts(), 4);
}

#[test]
fn max_restarts_gives_up() {
    let mut t = T::running(RestartPolicy::OnFailure, 2);
    for _ in 0..2 {
        t.on(Input::Exited(Code(1)));
        t.on(Input::BackoffElapsed);
        t.on(Input::Spawned { pid: 1 });
    }
    assert_eq!(t.on(Input::Exited(Code(1))), vec![]);
    match t.state() {
        State::Failed { exit: Some(Code(1)), reason } => assert_eq!(reason, "gave up after 2 restart(s) in a row; last: exited with status 1"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn always_giving_up_after_successful_runs_completes() {
    let mut t = T::running(RestartPolicy::Always, 1);
    t.on(Input::Exited(Code(0)));
    t.on(Input::BackoffElapsed);
    t.on(Input::Spawned { pid: 1 });
    assert_eq!(t.on(Input::Exited(Code(0))), vec![]);
    assert_eq!(t.state(), &State::Completed { exit: Code(0), stopped: false });
}

#[test]
fn a_stable_run_resets_the_count_and_the_backoff() {
    let mut t = T::running(RestartPolicy::OnFailure, 2);
    t.on(Input::Exited(Code(1)));
    t.on(Input::BackoffElapsed);
    t.on(Input::Spawned { pid: 1 });
    t.on(Input::Exited(Code(1)));
    assert_eq!(t.m.restarts(), 2);
    t.on(Input::BackoffElapsed);
    t.on(Input::Spawned { pid: 1 });
    // This run lasts past stable_after (10 s): the count starts over instead of giving up.
    assert_eq!(t.after(11).on(Input::Exited(Code(1))), vec![ScheduleRestart(Duration::from_secs(1))]);
    assert_eq!(t.m.restarts(), 1);
}

#[test]
fn exit_on_failure_policy_does_not_restart() {
    let mut t = T::running(RestartPolicy::ExitOnFailure, 0);
    assert_eq!(t.on(Input::Exited(Code(2))), vec![]);
    assert!(matches!(t.state(), State::Failed { exit: Some(Code(2)), .. }));
}

#[test]
fn stop_during_backoff_ends_without_restart() {
    let mut t = T::running(RestartPolicy::Always, 0);
    t.on(Input::Exited(Code(1)));
    assert_eq!(t.on(Input::Stop), vec![]);
    assert_eq!(t.state(), &State::Completed { exit: Code(1), stopped: true });
    assert!(t.m.on(Input::BackoffElapsed, t.now).is_err(), "a late timer does nothing");
}

#[test]
fn readiness_failure_stops_then_applies_the_policy() {
    for (policy, restarts) in [(RestartPolicy::No, false), (RestartPolicy::OnFailure, true)] {
        let mut t = T::running(policy, 0);
        assert_eq!(t.on(Input::ReadinessFailed("3 failures".into())), vec![SendStop]);
        assert_eq!(t.state(), &State::Stopping { pid: Some(42), cause: StopCause::Unready("3 failures".into()) });
        let effects = t.on(Input::Exited(Signal(15)));
        if restarts {
            assert_eq!(effects, vec![ScheduleRestart(Duration::from_secs(1))]);
        } else {
            assert_eq!(t.state(), &State::Failed { exit: Some(Signal(15)), reason: "not ready: 3 failures".into() });
        }
    }
    // Also from ready, and a process exiting 0 after being stopped as unready is still a failure.
    let mut t = T::running(RestartPolicy::OnFailure, 0);
    t.on(Input::Ready);
    t.on(Input::ReadinessFailed("x".into()));
    assert!(matches!(t.on(Input::Exited(Code(0))).as_slice(), [ScheduleRestart(_)]));
}

#[test]
fn liveness_failure_restarts_whatever_the_policy() {
    let mut t = T::running(RestartPolicy::No, 1);
    t.on(Input::Ready);
    assert_eq!(t.on(Input::LivenessFailed("hung".into())), vec![SendStop]);
    assert_eq!(t.on(Input::Exited(Signal(9))), vec![ScheduleRestart(Duration::from_secs(1))]);
    t.on(Input::BackoffElapsed);
    t.on(Input::Spawned { pid: 2 });
    t.on(Input::LivenessFailed("hung".into()));
    t.on(Input::Exited(Signal(9)));
    assert!(matches!(t.state(), State::Failed { reason, .. } if reason.starts_with("gave up after 1 restart")), "max_restarts still applies");
}

#[test]
fn watchdog_expiry_stops_then_applies_the_policy() {
    let mut t = T::running(RestartPolicy::OnFailure, 0);
    t.on(Input::Ready);
    assert_eq!(t.on(Input::WatchdogExpired("silent for 1s".into())), vec![SendStop]);
    assert_eq!(t.state(), &State::Stopping { pid: Some(42), cause: StopCause::Watchdog("silent for 1s".into()) });
    assert_eq!(t.on(Input::Exited(Signal(6))), vec![ScheduleRestart(Duration::from_secs(1))]);
    let mut t = T::running(no(), 0);
    t.on(Input::WatchdogExpired("silent".into()));
    t.on(Input::Exited(Code(0)));
    assert_eq!(t.state(), &State::Failed { exit: Some(Code(0)), reason: "watchdog: silent".into() }, "a watchdog stop is a failure even if it exits 0");
    let mut t = T::running(RestartPolicy::Always, 0);
    t.on(Input::WatchdogExpired("x".into()));
    t.on(Input::Stop);
    assert_eq!(t.on(Input::Exited(Signal(6))), vec![], "the run stopping cancels the restart");
}

#[test]
fn run_stop_during_a_probe_stop_cancels_the_restart() {
    let mut t = T::running(RestartPolicy::Always, 0);
    t.on(Input::LivenessFailed("hung".into()));
    assert_eq!(t.on(Input::Stop), vec![], "already stopping: no second stop sequence");
    assert_eq!(t.state(), &State::Stopping { pid: Some(42), cause: StopCause::Shutdown });
    assert_eq!(t.on(Input::Exited(Signal(15))), vec![]);
    assert!(matches!(t.state(), State::Completed { stopped: true, .. }));
}

#[test]
fn probe_verdicts_are_ignored_while_stopping_or_ended() {
    let mut t = T::running(no(), 0);
    t.on(Input::Stop);
    assert!(t.m.on(Input::Ready, t.now).is_err());
    assert!(t.m.on(Input::ReadinessFailed("x".into()), t.now).is_err());
    t.on(Input::Exited(Code(0)));
    assert!(t.m.on(Input::LivenessFailed("x".into()), t.now).is_err());
}

#[test]
fn a_manual_start_revives_ended_skipped_or_disabled_processes() {
    let mut t = T::running(RestartPolicy::OnFailure, 1);
    t.on(Input::Ready);
    t.on(Input::Stop);
    t.on(Input::Exited(Signal(15)));
    assert_eq!(t.on(Input::Start), vec![]);
    assert_eq!(t.state(), &State::Waiting);
    assert!(!t.m.was_ready(), "a new life starts unready");
    assert_eq!(t.on(Input::DependenciesMet), vec![Spawn]);
    let mut d = Machine::new(false, vec![0], RestartRules::never());
    d.on(Input::Activate, Instant::now()).unwrap();
    assert_eq!(d.on(Input::Start, Instant::now()), Ok(vec![]));
    assert_eq!(d.state(), &State::Waiting);
    let mut s = T::new(no(), 0);
    s.on(Input::Activate);
    s.on(Input::DependencyUnmet("x".into()));
    s.on(Input::Start);
    assert_eq!(s.state(), &State::Waiting);
    assert!(T::running(no(), 0).m.on(Input::Start, Instant::now()).is_err(), "a running process is not started twice");
}

#[test]
fn nonsense_inputs_are_rejected_and_change_nothing() {
    let mut t = T::new(no(), 0);
    t.on(Input::Activate);
    let err = t.m.on(Input::Exited(Code(0)), t.now).unwrap_err();
    assert_eq!(err.state, "waiting");
    assert_eq!(t.state(), &State::Waiting);
    assert!(t.m.on(Input::Ready, t.now).is_err());
    assert!(t.m.on(Input::BackoffElapsed, t.now).is_err());
    let mut t = T::running(no(), 0);
    assert!(t.m.on(Input::DependenciesMet, t.now).is_err());
    assert!(t.m.on(Input::Activate, t.now).is_err());
    assert!(t.m.on(Input::Spawned { pid: 1 }, t.now).is_err());
    t.on(Input::Exited(Code(0)));
    assert!(t.m.on(Input::Exited(Code(0)), t.now).is_err());
}

#[test]
fn the_restart_deadline_is_the_machine_s() {
    let mut t = T::running(RestartPolicy::Always, 0);
    assert_eq!(t.m.next_deadline(), None);
    t.on(Input::Exited(Code(1)));
    assert_eq!(t.m.next_deadline(), Some(t.now + Duration::from_secs(1)));
    t.after(1).on(Input::BackoffElapsed);
    assert_eq!(t.m.next_deadline(), None, "no deadline once it starts again");
}

#[test]
fn operator_requests_hold_restart_and_release() {
    let mut t = T::running(RestartPolicy::No, 0);
    t.m.request_stop(true, false);
    assert_eq!(t.m.requests(), Requests { held: true, stop: true, restart: false });
    assert!(!t.m.stop_done(), "a stop without restart does not start again");
    assert_eq!(t.m.requests(), Requests { held: true, stop: false, restart: false });
    t.m.release();
    assert_eq!(t.m.requests(), Requests::default());
    t.m.request_stop(true, true);
    assert!(t.m.stop_done(), "a restart starts again");
    assert_eq!(t.m.requests(), Requests::default(), "and is no longer held");
    t.m.request_stop(false, true);
    t.m.drop_requests();
    assert_eq!(t.m.requests(), Requests::default());
}
