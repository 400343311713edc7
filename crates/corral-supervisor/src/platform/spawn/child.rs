//! A started process, waited for through its pidfd.
//!
//! The pidfd comes from `clone3` (`CLONE_PIDFD`), or from `pidfd_open` after
//! the fork fallback; only where neither exists (Linux before 5.3) is the
//! exit polled. Reaping goes through the pidfd (`waitid(P_PIDFD)`), so a pid
//! reused by another process can never be reaped in its place.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

use nix::libc;
use tokio::io::unix::AsyncFd;

/// How often an exit is polled where there is no pidfd.
const POLL: Duration = Duration::from_millis(50);

pub(crate) struct Child {
    pid: i32,
    /// Readable once the process has ended.
    pidfd: Option<AsyncFd<OwnedFd>>,
    status: Option<ExitStatus>,
}

impl Child {
    /// `pidfd`: from clone3, else one is opened here when the kernel can.
    pub(super) fn new(pid: i32, pidfd: Option<OwnedFd>) -> io::Result<Child> {
        let pidfd = pidfd.or_else(|| open_pidfd(pid));
        let pidfd = match pidfd {
            // SAFETY: the AsyncFd owns the pidfd; nothing else closes or replaces it.
            Some(fd) => Some(unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE)? }),
            None => None,
        };
        Ok(Child { pid, pidfd, status: None })
    }

    pub(crate) fn id(&self) -> i32 {
        self.pid
    }

    /// Whether exits are seen through a pidfd (else polled).
    #[cfg(test)]
    pub(super) fn has_pidfd(&self) -> bool {
        self.pidfd.is_some()
    }

    /// The exit status if the process has ended (reaping it), else `None`.
    pub(crate) fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = match &self.pidfd {
                Some(fd) => reap_pidfd(fd.get_ref(), false)?,
                None => reap_pid(self.pid, false)?,
            };
        }
        Ok(self.status)
    }

    /// Waits until the process has ended and reaps it.
    pub(crate) async fn wait(&mut self) -> io::Result<ExitStatus> {
        loop {
            if let Some(s) = self.try_wait()? {
                return Ok(s);
            }
            match &self.pidfd {
                Some(fd) => fd.readable().await?.clear_ready(),
                // Boxed: a timer is large, and only a kernel without pidfds polls.
                None => Box::pin(tokio::time::sleep(POLL)).await,
            }
        }
    }

    /// Waits without a runtime (a child that failed before exec).
    pub(super) fn wait_blocking(&mut self) -> io::Result<ExitStatus> {
        if let Some(s) = self.status {
            return Ok(s);
        }
        let status = match &self.pidfd {
            Some(fd) => reap_pidfd(fd.get_ref(), true)?,
            None => reap_pid(self.pid, true)?,
        };
        self.status = status;
        status.ok_or_else(|| io::Error::from(io::ErrorKind::WouldBlock))
    }
}

impl Drop for Child {
    /// A child dropped before it was reaped is reaped in the background, so
    /// it never stays a zombie (as tokio's Child does). The background waiter
    /// is not a `Child`: if the runtime is shutting down and drops it, nothing
    /// is respawned (corral is ending, and the subreaper's last sweep reaps).
    fn drop(&mut self) {
        if !matches!(self.try_wait(), Ok(None)) {
            return;
        }
        let (pid, pidfd) = (self.pid, self.pidfd.take());
        match (tokio::runtime::Handle::try_current(), pidfd) {
            (Ok(rt), Some(fd)) => {
                rt.spawn(async move {
                    while matches!(reap_pidfd(fd.get_ref(), false), Ok(None)) {
                        match fd.readable().await {
                            Ok(mut ready) => ready.clear_ready(),
                            Err(_) => return,
                        }
                    }
                });
            }
            (_, pidfd) => {
                std::thread::spawn(move || match pidfd {
                    Some(fd) => drop(reap_pidfd(fd.get_ref(), true)),
                    None => drop(reap_pid(pid, true)),
                });
            }
        }
    }
}

fn open_pidfd(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // SAFETY: a descriptor just returned to us, owned by nothing else.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

const P_PIDFD: libc::idtype_t = 3;

/// Reaps the process behind `pidfd` if it has ended (or waits, with `block`).
fn reap_pidfd(pidfd: &OwnedFd, block: bool) -> io::Result<Option<ExitStatus>> {
    // SAFETY: a zeroed siginfo_t is valid; waitid fills it.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WEXITED | if block { 0 } else { libc::WNOHANG };
    // SAFETY: waitid on a pidfd this handle owns, with a valid siginfo_t.
    if unsafe { libc::waitid(P_PIDFD, pidfd.as_raw_fd() as libc::id_t, &mut info, flags) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: waitid filled `info`: si_pid is 0 when nothing has ended yet.
    let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
    if pid == 0 {
        return Ok(None);
    }
    let raw = match info.si_code {
        libc::CLD_EXITED => (status & 0xff) << 8,
        libc::CLD_KILLED => status & 0x7f,
        libc::CLD_DUMPED => (status & 0x7f) | 0x80,
        _ => return Ok(None),
    };
    Ok(Some(ExitStatus::from_raw(raw)))
}

/// [`reap_pidfd`] by pid, where there is no pidfd.
fn reap_pid(pid: i32, block: bool) -> io::Result<Option<ExitStatus>> {
    let mut raw = 0;
    // SAFETY: waitpid on our own child's pid, which only this handle reaps.
    match unsafe { libc::waitpid(pid, &mut raw, if block { 0 } else { libc::WNOHANG }) } {
        0 => Ok(None),
        r if r == pid => Ok(Some(ExitStatus::from_raw(raw))),
        _ => Err(io::Error::last_os_error()),
    }
}
