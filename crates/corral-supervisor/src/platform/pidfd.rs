//! Waiting for a process to end without being its only waiter: a pidfd
//! (`pidfd_open`, Linux 5.3) becomes readable when the process exits, and
//! leaves its exit status to whoever reaps it.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// Waits until process `pid` (a child of corral's) has ended.
pub(crate) async fn wait_exit(pid: i32) -> io::Result<()> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { nix::libc::syscall(nix::libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the descriptor was just returned to us and is owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    // SAFETY: the AsyncFd owns the descriptor; nothing else closes or replaces it.
    let fd = unsafe { tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE)? };
    let _ready = fd.readable().await?;
    Ok(())
}
