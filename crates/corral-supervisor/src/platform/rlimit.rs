//! corral's file descriptor limit.
//!
//! corral holds a few descriptors per process (its output pipe, notify and
//! listening sockets) and one per control connection, so the common default
//! soft limit of 1024 is low for large sets. At start corral raises its soft
//! `RLIMIT_NOFILE` to the hard limit, and gives every process it starts the
//! original soft limit back: programs built on `select()` misbehave with
//! descriptors above 1024 (FD_SETSIZE).

use nix::libc;

/// The limit corral started with, to hand back to its processes.
#[derive(Debug, Clone, Copy)]
pub struct Original(libc::rlimit);

/// Raises the soft limit to the hard one; returns the original (`None` when
/// it cannot be read).
pub fn raise_nofile() -> Option<Original> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    let original = Original(lim);
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            tracing::debug!("file descriptor limit raised from {} to {}", lim.rlim_cur, lim.rlim_max);
        }
    }
    Some(original)
}

impl Original {
    /// Puts the original limit back. Async-signal-safe: for a child between fork and exec.
    pub fn restore(&self) {
        // SAFETY: setrlimit is a plain system call on a value we own.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &self.0) };
    }
}

/// corral's current soft limit on descriptors.
pub fn soft_nofile() -> u64 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: as above.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 1024;
    }
    lim.rlim_cur
}

/// Descriptors corral has open now.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count().saturating_sub(1)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_open_descriptors() {
        let before = super::open_fds();
        let f = std::fs::File::open("/dev/null").unwrap();
        assert!(super::open_fds() > before.saturating_sub(2));
        drop(f);
        assert!(super::soft_nofile() >= 3);
    }
}
