//! The child subreaper (`PR_SET_CHILD_SUBREAPER`): orphaned descendants (a
//! daemon that double-forks, a process that `setsid`s away) are re-parented
//! to corral instead of init, so corral can find them and must reap them.

use std::io;

use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// Makes this process the reaper of its orphaned descendants.
pub(crate) fn become_subreaper() -> io::Result<()> {
    nix::sys::prctl::set_child_subreaper(true).map_err(io::Error::from)
}

/// Reaps child `pid` if it has exited (never blocks, never touches other
/// children: a `waitpid(-1)` would steal exit statuses others wait for).
/// Its wait status, described, if it was reaped.
pub(crate) fn reap_if_exited(pid: i32) -> Option<String> {
    match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::StillAlive) | Err(_) => None,
        Ok(status) => Some(format!("{status:?}")),
    }
}
