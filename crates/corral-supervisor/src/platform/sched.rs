//! corral's own threads run as batch work (`SCHED_BATCH`); the processes it
//! starts get the default policy back.
//!
//! A chatty process and corral pass its output through a pipe: each write
//! wakes corral's reader, and under the default policy the woken reader
//! preempts the writer, or a thread the writer feeds, for a few microseconds
//! of work, thousands of times a second. A batch thread is never woken into
//! a running one's place: it runs on an idle CPU, or when the writer blocks,
//! and then takes more at once. With every CPU busy, one process's output
//! through corral got 15–20 % faster (`bench/logs.py`, one writer, medians of
//! 5); corral's other work waits at most a scheduler tick under that load,
//! and not at all when a CPU is idle.
//!
//! Only the default policy is changed: a corral started with another
//! (`chrt --idle`, say) keeps it, and so do its processes, as before.
//! Nice values are untouched either way.

use std::io;

use nix::libc;
use std::sync::atomic::{AtomicBool, Ordering};

/// [`lower`] changed the policy: children must get the default back.
static LOWERED: AtomicBool = AtomicBool::new(false);

fn set(policy: libc::c_int) -> io::Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: a plain system call on the calling thread, with a valid parameter.
    if unsafe { libc::sched_setscheduler(0, policy, &param) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Makes the calling thread batch work if it runs under the default policy.
/// Threads and children it starts afterwards inherit that (threads started
/// before keep theirs); children started through `platform::spawn` get the
/// default back.
pub fn lower() {
    // SAFETY: a plain system call on the calling thread.
    if unsafe { libc::sched_getscheduler(0) } == libc::SCHED_OTHER && set(libc::SCHED_BATCH).is_ok() {
        LOWERED.store(true, Ordering::Relaxed);
    }
}

/// In a child between fork and exec: the default policy again if [`lower`]
/// changed it. One system call, safe after a fork (or in a `CLONE_VM` child).
pub fn restore_in_child() -> io::Result<()> {
    if LOWERED.load(Ordering::Relaxed) {
        set(libc::SCHED_OTHER)?;
    }
    Ok(())
}

/// The calling thread's policy (for tests and `ps -v`-like reports).
#[cfg(test)]
pub(crate) fn policy_of_thread() -> libc::c_int {
    // SAFETY: a plain system call on the calling thread.
    unsafe { libc::sched_getscheduler(0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A child's policy as the kernel reports it (field 41 of /proc/PID/stat).
    fn policy_of(pid: i32) -> libc::c_int {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let after = stat.rsplit_once(')').unwrap().1;
        after.split_whitespace().nth(38).unwrap().parse().unwrap()
    }

    #[tokio::test]
    async fn corral_is_batch_work_and_its_children_are_not() {
        // The policy is per thread: this test's thread (children inherit the spawning thread's).
        lower();
        assert_eq!(policy_of_thread(), libc::SCHED_BATCH);
        let mut cmd = super::super::spawn::Command::new("sleep");
        cmd.arg("5");
        let mut child = cmd.spawn(None).unwrap();
        let pid = child.id();
        // Wait for the exec: the kernel reports the policy of `sleep` itself.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim() != "sleep" {
            assert!(std::time::Instant::now() < deadline, "the child did not exec");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(policy_of(pid), libc::SCHED_OTHER, "the child runs under the default policy");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).unwrap();
        child.wait().await.unwrap();
    }
}
