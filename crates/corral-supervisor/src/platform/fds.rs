//! Placing file descriptors at chosen numbers in a child, between fork and exec.

use std::io;
use std::os::fd::RawFd;

/// Most descriptors one child can be handed (listeners plus a readiness fd).
pub(crate) const MAX_FDS: usize = 64;

/// Makes each `(source, target)` the child's fd `target`, without close-on-exec.
///
/// Every source is first duplicated above all targets (so a source already
/// sitting on some target number cannot be clobbered, and `dup2` never sees
/// equal numbers, which would leave close-on-exec set); then each duplicate is
/// `dup2`ed down, which clears close-on-exec on the target only. The
/// duplicates themselves are close-on-exec and vanish at exec. Only
/// async-signal-safe calls; no allocation.
///
/// # Safety
/// Call only in a forked child before exec.
pub(crate) unsafe fn place(fds: &[(RawFd, RawFd)]) -> io::Result<()> {
    if fds.len() > MAX_FDS {
        // No allocation here (the child may share corral's memory): a plain errno.
        return Err(io::Error::from_raw_os_error(nix::libc::EMFILE));
    }
    let floor = fds.iter().map(|(_, t)| *t).max().unwrap_or(2).max(9) + 1;
    let mut high = [0 as RawFd; MAX_FDS];
    for (i, &(src, _)) in fds.iter().enumerate() {
        let r = nix::libc::fcntl(src, nix::libc::F_DUPFD_CLOEXEC, floor);
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        high[i] = r;
    }
    for (i, &(_, target)) in fds.iter().enumerate() {
        if nix::libc::dup2(high[i], target) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
