//! How a run's exit status is decided (docs/exit-status.md is the user-facing table).
//!
//! process-compose exits 0 even when processes failed; corral does not: a CI job
//! that runs a process set must fail when the set failed.

/// Why the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EndCause {
    /// Every process ended by itself.
    Natural,
    /// SIGINT, SIGTERM or SIGHUP (or, later, `corral down`).
    Stopped,
    /// A second signal: every group was killed at once.
    Forced,
    /// A process with `exit_on_end` ended with this status (already mapped to 0
    /// when it is one of the process's success codes).
    ExitOnEnd(i32),
    /// A process with `exit_on_skipped` was skipped.
    ExitOnSkipped,
    /// A process with `restart: exit_on_failure` failed with this status.
    ExitOnFailure(i32),
}

/// The status `corral up` exits with. `all_succeeded` says whether every process
/// that was part of the run completed successfully (none failed or was skipped).
pub(crate) fn exit_status(cause: EndCause, all_succeeded: bool) -> i32 {
    match cause {
        EndCause::Natural => i32::from(!all_succeeded),
        EndCause::Stopped => 0,
        EndCause::Forced => 130,
        EndCause::ExitOnEnd(status) | EndCause::ExitOnFailure(status) => status,
        EndCause::ExitOnSkipped => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table() {
        assert_eq!(exit_status(EndCause::Natural, true), 0);
        assert_eq!(exit_status(EndCause::Natural, false), 1);
        assert_eq!(exit_status(EndCause::Stopped, false), 0);
        assert_eq!(exit_status(EndCause::Forced, true), 130);
        assert_eq!(exit_status(EndCause::ExitOnEnd(7), true), 7);
        assert_eq!(exit_status(EndCause::ExitOnEnd(0), false), 0);
        assert_eq!(exit_status(EndCause::ExitOnSkipped, true), 1);
        assert_eq!(exit_status(EndCause::ExitOnFailure(3), false), 3);
    }
}
