//! Pseudo-terminals for `is_tty` processes.
//!
//! [`open`] makes a pair: the process gets the terminal side as its stdin,
//! stdout and stderr, and, made its session leader in [`make_controlling`],
//! as its controlling terminal (so `/dev/tty` works, Ctrl-C typed into it is
//! SIGINT, and a window size change is SIGWINCH to its foreground group).
//! corral keeps the other side: it reads the output as it reads a pipe, and
//! writes input into it.
//!
//! The terminal is set up as any terminal is (`\n` written as `\r\n`): an
//! attached client shows the bytes as they are; corral's line-based output
//! takes the `\r` off the line ends (see `spawn::launch_tty`).

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::pty::{openpty, Winsize};

/// A terminal's size in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Size {
    pub(crate) cols: u16,
    pub(crate) rows: u16,
}

/// corral's own terminal's size (stdout, else stderr, else stdin), else 80×24.
pub(crate) fn own_size() -> Size {
    for fd in [1, 2, 0] {
        let mut ws = Winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: TIOCGWINSZ writes one winsize into `ws`.
        let ok = unsafe { nix::libc::ioctl(fd, nix::libc::TIOCGWINSZ, &mut ws) } == 0;
        if ok && ws.ws_col > 0 && ws.ws_row > 0 {
            return Size { cols: ws.ws_col, rows: ws.ws_row };
        }
    }
    Size { cols: 80, rows: 24 }
}

/// A new pseudo-terminal of `size`: (corral's side, the process's side), both close-on-exec.
pub(crate) fn open(size: Size) -> io::Result<(OwnedFd, OwnedFd)> {
    let ws = Winsize { ws_row: size.rows, ws_col: size.cols, ws_xpixel: 0, ws_ypixel: 0 };
    let pair = openpty(Some(&ws), None).map_err(io::Error::from)?;
    for fd in [&pair.master, &pair.slave] {
        nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC)).map_err(io::Error::from)?;
    }
    Ok((pair.master, pair.slave))
}

/// Sets the window size of the terminal whose corral side is `master`; the
/// kernel tells the process's foreground group (SIGWINCH).
pub(crate) fn resize(master: RawFd, size: Size) -> io::Result<()> {
    let ws = Winsize { ws_row: size.rows, ws_col: size.cols, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCSWINSZ reads one winsize.
    if unsafe { nix::libc::ioctl(master, nix::libc::TIOCSWINSZ, &ws) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Between fork and exec: makes the child the leader of a new session (and
/// of a new process group whose id is its pid, as corral's other processes
/// have) with its stdin, already the terminal, as its controlling terminal.
/// The child was put in a group of its own before this runs, and a group
/// leader cannot start a session: it first moves back into its parent's group.
/// Only async-signal-safe calls.
pub(crate) fn make_controlling() -> io::Result<()> {
    // SAFETY: getppid, getpgid, setpgid, setsid and ioctl are async-signal-safe system calls.
    unsafe {
        let parent_group = nix::libc::getpgid(nix::libc::getppid());
        if parent_group > 0 && nix::libc::getpgrp() == nix::libc::getpid() {
            nix::libc::setpgid(0, parent_group);
        }
        if nix::libc::setsid() < 0 {
            return Err(io::Error::last_os_error());
        }
        if nix::libc::ioctl(0, nix::libc::TIOCSCTTY, 0) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
