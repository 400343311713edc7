//! One sd_notify socket per process: a Unix datagram socket at a short path,
//! with `SO_PASSCRED` so every datagram carries its sender's pid.
//!
//! A socket per process makes attribution independent of pid look-ups; the
//! sender check only rejects strangers (a process outside the service's group).
//! The queue of a datagram socket holds only a few messages on this kernel
//! (`net.unix.max_dgram_qlen` is 10), so each wakeup drains everything pending.
//! File descriptors a sender attaches (`FDSTORE=1`) are closed at once;
//! datagrams larger than 4096 bytes are dropped.

use std::io::{self, IoSliceMut};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::sys::socket::{bind, recvmsg, setsockopt, socket, sockopt, AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType, UnixAddr};
use tokio::io::unix::AsyncFd;

use super::message::{Summary, MAX_DATAGRAM};

/// `sun_path` holds 108 bytes including the terminating NUL.
pub(crate) const MAX_SOCKET_PATH: usize = 107;

pub(crate) struct NotifySocket {
    fd: AsyncFd<OwnedFd>,
    path: PathBuf,
}

impl NotifySocket {
    pub(crate) fn bind(path: &Path) -> io::Result<NotifySocket> {
        check_path_len(path)?;
        let _ = std::fs::remove_file(path);
        let fd = socket(AddressFamily::Unix, SockType::Datagram, SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK, None)?;
        setsockopt(&fd, sockopt::PassCred, &true)?;
        bind(fd.as_raw_fd(), &UnixAddr::new(path)?)?;
        // SAFETY: the descriptor is owned by the AsyncFd and stays open while registered.
        let fd = unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }.map_err(|e| e.into_parts().1)?;
        Ok(NotifySocket { fd, path: path.to_path_buf() })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Waits for datagrams, then folds everything pending from accepted senders
    /// into one summary. `accept` decides by sender pid. Cancel-safe.
    pub(crate) async fn next(&self, accept: impl Fn(i32) -> bool) -> Summary {
        loop {
            let mut guard = match self.fd.readable().await {
                Ok(g) => g,
                Err(e) => {
                    tracing::debug!("notify socket: {e}");
                    return std::future::pending().await;
                }
            };
            let mut summary = Summary::default();
            let mut got = false;
            loop {
                match receive(self.fd.get_ref()) {
                    Ok(Some((pid, data))) => {
                        if accept(pid) {
                            summary.absorb(&data);
                            got = true;
                        } else {
                            tracing::debug!("notify socket {}: ignored a datagram from pid {pid}, not of this process", self.path.display());
                        }
                    }
                    Ok(None) => continue, // dropped (oversized or without credentials)
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        guard.clear_ready();
                        break;
                    }
                    Err(e) => {
                        tracing::debug!("notify socket: {e}");
                        guard.clear_ready();
                        break;
                    }
                }
            }
            for line in &summary.rejected {
                tracing::debug!("notify socket {}: ignored {line:?}", self.path.display());
            }
            if got && !summary.is_empty() {
                return summary;
            }
        }
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

pub(crate) fn check_path_len(path: &Path) -> io::Result<()> {
    let len = path.as_os_str().len();
    if len > MAX_SOCKET_PATH {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("socket path {} is {len} bytes, more than the {MAX_SOCKET_PATH} a Unix socket address holds; use a shorter directory", path.display()),
        ));
    }
    Ok(())
}

/// One datagram: Some((sender pid, payload)), or None when it was dropped.
fn receive(fd: &OwnedFd) -> io::Result<Option<(i32, Vec<u8>)>> {
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    let mut cmsg = nix::cmsg_space!(nix::sys::socket::UnixCredentials, [std::os::fd::RawFd; 16]);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(fd.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC | MsgFlags::MSG_DONTWAIT)
        .map_err(io::Error::from)?;
    let mut pid = None;
    for c in msg.cmsgs().map_err(io::Error::from)? {
        match c {
            ControlMessageOwned::ScmCredentials(cred) => pid = Some(cred.pid()),
            ControlMessageOwned::ScmRights(fds) => {
                for f in fds {
                    // SAFETY: the kernel just gave us these descriptors; nobody else owns them.
                    drop(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(f) });
                }
            }
            _ => {}
        }
    }
    let truncated = msg.flags.contains(MsgFlags::MSG_TRUNC) || msg.flags.contains(MsgFlags::MSG_CTRUNC);
    let len = msg.bytes;
    if truncated || len > MAX_DATAGRAM {
        tracing::debug!("notify socket: dropped an oversized datagram");
        return Ok(None);
    }
    let Some(pid) = pid else { return Ok(None) };
    buf.truncate(len);
    Ok(Some((pid, buf)))
}
