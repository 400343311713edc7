//! Whether a dependency's condition holds, from the dependency's state.
//!
//! Conditions are met once and stay met: a dependency that was ready and later
//! restarts does not un-start its dependents (see docs/lifecycle.md). A
//! condition that can no longer be met skips the dependent, with the reason.

use corral_config::Condition;

use super::State;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DepCheck {
    Met,
    /// Not yet; it may still be met.
    Pending,
    /// It can never be met in this run.
    Never(String),
}

/// Evaluates `condition` against dependency `dep`, in `state`; `was_ready`
/// says whether it has passed its readiness check in this run.
pub(crate) fn check_condition(condition: Condition, dep: &str, state: &State, was_ready: bool) -> DepCheck {
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
            S::Running { .. } | S::Ready { .. } | S::Stopping { pid: Some(_), .. } | S::Restarting { .. } | S::Completed { .. } | S::Failed { .. } => DepCheck::Met,
            _ => DepCheck::Pending,
        },
        Condition::ProcessHealthy | Condition::ProcessLogReady => match state {
            _ if was_ready => DepCheck::Met,
            S::Completed { exit, .. } | S::Failed { exit: Some(exit), .. } => never(format!("exited ({exit}) before it was ready")),
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{ExitKind::*, StopCause};
    use Condition::*;

    fn check(c: Condition, s: &State) -> DepCheck {
        check_condition(c, "db", s, false)
    }

    #[test]
    fn started() {
        assert_eq!(check(ProcessStarted, &State::Waiting), DepCheck::Pending);
        assert_eq!(check(ProcessStarted, &State::Starting), DepCheck::Pending);
        assert_eq!(check(ProcessStarted, &State::Running { pid: 1 }), DepCheck::Met);
        assert_eq!(check(ProcessStarted, &State::Restarting { attempt: 1, delay: Default::default() }), DepCheck::Met);
        assert_eq!(check(ProcessStarted, &State::Failed { exit: Some(Code(1)), reason: "x".into() }), DepCheck::Met);
        assert!(matches!(check(ProcessStarted, &State::Disabled), DepCheck::Never(_)));
    }

    #[test]
    fn healthy_and_log_ready() {
        for c in [ProcessHealthy, ProcessLogReady] {
            assert_eq!(check(c, &State::Running { pid: 1 }), DepCheck::Pending);
            assert_eq!(check(c, &State::Ready { pid: 1 }), DepCheck::Pending, "only was_ready counts");
            assert_eq!(check_condition(c, "db", &State::Ready { pid: 1 }, true), DepCheck::Met);
            assert_eq!(check_condition(c, "db", &State::Restarting { attempt: 1, delay: Default::default() }, true), DepCheck::Met, "met once, stays met");
            assert_eq!(check(c, &State::Restarting { attempt: 1, delay: Default::default() }), DepCheck::Pending);
            assert_eq!(check(c, &State::Stopping { pid: Some(1), cause: StopCause::Unready("x".into()) }), DepCheck::Pending);
            match check(c, &State::Completed { exit: Code(0), stopped: false }) {
                DepCheck::Never(r) => assert_eq!(r, format!("dependency db exited (status 0) before it was ready ({} required)", c.as_str())),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn completed() {
        let failed = State::Failed { exit: Some(Code(2)), reason: "exited with status 2".into() };
        assert_eq!(check(ProcessCompleted, &State::Running { pid: 1 }), DepCheck::Pending);
        assert_eq!(check(ProcessCompleted, &failed), DepCheck::Met);
        assert_eq!(check(ProcessCompleted, &State::Restarting { attempt: 1, delay: Default::default() }), DepCheck::Pending);
        assert!(matches!(check(ProcessCompleted, &State::Skipped { reason: "x".into() }), DepCheck::Never(_)));
        assert!(matches!(check(ProcessCompleted, &State::Failed { exit: None, reason: "no dir".into() }), DepCheck::Never(_)));
    }

    #[test]
    fn completed_successfully() {
        assert_eq!(check(ProcessCompletedSuccessfully, &State::Completed { exit: Code(0), stopped: false }), DepCheck::Met);
        match check(ProcessCompletedSuccessfully, &State::Failed { exit: Some(Code(2)), reason: "exited with status 2".into() }) {
            DepCheck::Never(r) => assert_eq!(r, "dependency db failed: exited with status 2 (process_completed_successfully required)"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(check(ProcessCompletedSuccessfully, &State::Completed { exit: Code(0), stopped: true }), DepCheck::Never(_)));
        assert_eq!(check(ProcessCompletedSuccessfully, &State::Restarting { attempt: 2, delay: Default::default() }), DepCheck::Pending);
    }
}
