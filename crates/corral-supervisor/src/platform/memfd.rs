//! An executable held in memory: the guardian built into corral, for when no
//! `corral-guard` file is installed beside it (`cargo install`, a copied binary).

use std::ffi::CStr;
use std::io::{self, Write};
use std::os::fd::{FromRawFd, OwnedFd};

use nix::libc;

/// A sealed, close-on-exec memory file holding `bytes` (exec it through
/// `/proc/self/fd/N`: the kernel opens it before close-on-exec applies).
pub(crate) fn sealed(name: &CStr, bytes: &[u8]) -> io::Result<OwnedFd> {
    // SAFETY: memfd_create with a valid C string; returns a new descriptor or -1.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a descriptor just returned to us, owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut file = std::fs::File::from(fd);
    file.write_all(bytes)?;
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: fcntl on the descriptor we own.
    if unsafe { libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&file), libc::F_ADD_SEALS, seals) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(file.into())
}

/// The path that execs `fd` (the kernel resolves it before close-on-exec applies).
pub(crate) fn exec_path(fd: &OwnedFd) -> std::path::PathBuf {
    format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(fd)).into()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_sealed_memory_file_runs_and_cannot_change() {
        let sh = std::fs::read("/bin/true").unwrap();
        let fd = super::sealed(c"t", &sh).unwrap();
        let status = std::process::Command::new(super::exec_path(&fd)).status().unwrap();
        assert!(status.success());
        let mut f = std::fs::File::from(fd);
        assert!(std::io::Write::write_all(&mut f, b"x").is_err(), "sealed against writes");
    }
}
