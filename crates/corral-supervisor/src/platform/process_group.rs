//! Signalling processes and process groups (`kill`, `killpg`, `getpgid`).
//!
//! Every process corral starts leads a process group of its own (its pgid is
//! its pid); stops go to the group, and to the leader itself should it have
//! left it. A signal to something that no longer exists is not an error.

use nix::errno::Errno;
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

/// Sends `sig` to process group `pgid`; a group that no longer exists is not an error.
pub(crate) fn signal_group(pgid: i32, sig: Signal) {
    match killpg(Pid::from_raw(pgid), sig) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(e) => tracing::debug!("killpg({pgid}, {sig}): {e}"),
    }
}

/// Sends `sig` to process `pid`; a process that no longer exists is not an error.
pub(crate) fn signal_pid(pid: i32, sig: Signal) {
    match kill(Pid::from_raw(pid), sig) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(e) => tracing::debug!("kill({pid}, {sig}): {e}"),
    }
}

/// Sends `sig` to the group corral created for the process `leader` (whose
/// pgid was its pid) and, if the leader has since left that group (`setpgid`
/// into corral's group or another), to the leader itself: a signal to the
/// group alone would miss it. Only for a leader not yet reaped (its pid cannot
/// have been reused).
pub(crate) fn signal_leader_and_group(leader: i32, sig: Signal) {
    signal_group(leader, sig);
    if left_its_group(leader) {
        signal_pid(leader, sig);
    }
}

/// Whether `leader` lives in a process group other than its own.
pub(crate) fn left_its_group(leader: i32) -> bool {
    matches!(group_of(leader), Some(pg) if pg != leader)
}

/// Whether any process (zombies included, until reaped) is in group `pgid`.
pub(crate) fn group_exists(pgid: i32) -> bool {
    !matches!(kill(Pid::from_raw(-pgid), None), Err(Errno::ESRCH))
}

/// The process group of `pid`, if it exists.
pub(crate) fn group_of(pid: i32) -> Option<i32> {
    nix::unistd::getpgid(Some(Pid::from_raw(pid))).ok().map(Pid::as_raw)
}

/// corral's own process group.
pub(crate) fn own_group() -> i32 {
    nix::unistd::getpgrp().as_raw()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    #[test]
    fn a_group_is_signalled_until_it_is_gone() {
        let mut child = std::process::Command::new("sleep").arg("30").process_group(0).spawn().unwrap();
        let pid = child.id() as i32;
        assert!(group_exists(pid));
        assert_eq!(group_of(pid), Some(pid));
        assert!(!left_its_group(pid));
        signal_leader_and_group(pid, Signal::SIGKILL);
        child.wait().unwrap();
        assert!(!group_exists(pid));
        signal_group(pid, Signal::SIGKILL); // gone: not an error
        signal_pid(pid, Signal::SIGKILL);
        assert_ne!(own_group(), pid);
    }
}
