//! Socket activation: corral binds a process's sockets before its first start
//! and keeps them for the whole run, so a restart loses no connection attempt
//! (the kernel queues connections while nobody accepts). Each start passes
//! them at fd 3, 4, … in the order of `listen`.

use std::net::{TcpListener, UdpSocket};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use corral_config::ListenerKind;

use crate::notify::check_path_len;
use crate::plan::ProcessSpec;

/// A bound socket, close-on-exec in corral, passed on to each run of its process.
pub(crate) struct Bound {
    pub(crate) name: String,
    pub(crate) fd: OwnedFd,
    /// A Unix socket file to remove at the end of the run.
    pub(crate) path: Option<PathBuf>,
}

impl Drop for Bound {
    fn drop(&mut self) {
        if let Some(p) = &self.path {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Binds every listener of `spec`, or explains the first that could not be bound.
pub(crate) fn bind_all(spec: &ProcessSpec) -> Result<Vec<Bound>, String> {
    spec.listeners
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let at = format!("processes.{}.listen[{i}] ({})", spec.name, l.name);
            let (fd, path) = match &l.kind {
                ListenerKind::Tcp(addr) => (TcpListener::bind(addr).map(OwnedFd::from).map_err(|e| format!("{at}: cannot listen on tcp {addr}: {e}"))?, None),
                ListenerKind::Udp(addr) => (UdpSocket::bind(addr).map(OwnedFd::from).map_err(|e| format!("{at}: cannot bind udp {addr}: {e}"))?, None),
                ListenerKind::UnixStream(path) => (bind_unix(path, l.mode).map_err(|e| format!("{at}: {e}"))?, Some(path.clone())),
            };
            Ok(Bound { name: l.name.clone(), fd, path })
        })
        .collect()
}

fn bind_unix(path: &Path, mode: Option<u32>) -> Result<OwnedFd, String> {
    check_path_len(path).map_err(|e| e.to_string())?;
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(format!("{} exists and is not a socket; corral will not replace it", path.display()));
        }
        if UnixStream::connect(path).is_ok() {
            return Err(format!("{} is in use: something listens on it", path.display()));
        }
        // A socket file nobody listens on: left over from an earlier run.
        let _ = std::fs::remove_file(path);
    }
    let listener = UnixListener::bind(path).map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
    if let Some(m) = mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(m)).map_err(|e| format!("cannot set mode {m:o} on {}: {e}", path.display()))?;
    }
    Ok(OwnedFd::from(listener))
}
