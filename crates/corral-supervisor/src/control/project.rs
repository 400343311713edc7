//! Where a project's running corral lives: its identity, its state directory
//! (control socket, lock, logs of a detached run), and the lock that makes a
//! second `up` of the same project fail.
//!
//! Identity = a name (`--project`, `$CORRAL_PROJECT`, the config's `name`, or
//! the config file's stem) and the project root (the directory corral runs
//! in): `dev-3f2a9c1e`. The Nix wrapper's config is a store path that changes
//! with every edit, so the path of the config file itself is not part of it;
//! two checkouts of one project are two projects.
//!
//! The lock is an `flock` on a file in the state directory, held by the
//! running corral. The kernel drops it when that process dies, even by
//! SIGKILL, so a lock is never stale; a leftover socket is removed by the next
//! corral that takes the lock.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// `<name>-<8 hex digits of the root's hash>`.
    pub id: String,
    pub dir: PathBuf,
}

impl Project {
    pub fn new(name: &str, root: &Path) -> Project {
        let clean: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).take(40).collect();
        let id = format!("{clean}-{:08x}", fnv1a(root.as_os_str().as_encoded_bytes()) as u32);
        Project { dir: base_dir().join(&id), id }
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.join("control.sock")
    }
    pub fn lock_path(&self) -> PathBuf {
        self.dir.join("lock")
    }
    /// Process output of a detached run.
    pub fn output_log(&self) -> PathBuf {
        self.dir.join("output.log")
    }
    /// corral's own log of a detached run.
    pub fn corral_log(&self) -> PathBuf {
        self.dir.join("corral.log")
    }

    /// Creates the state directory (and its parent) with mode 0700, refusing
    /// one that belongs to another user or that others can enter.
    pub fn create_dir(&self) -> io::Result<()> {
        for dir in [self.dir.parent().expect("under a base dir"), &self.dir] {
            match DirBuilder::new().mode(0o700).create(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io::Error::new(e.kind(), format!("cannot create {}: {e}", dir.display()))),
            }
            let meta = std::fs::metadata(dir)?;
            if meta.uid() != nix::unistd::getuid().as_raw() {
                return Err(io::Error::new(io::ErrorKind::PermissionDenied, format!("{} belongs to another user", dir.display())));
            }
            if meta.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
            }
        }
        Ok(())
    }

    /// Takes the project's lock, writing our pid into it. Err names the pid
    /// holding it when the project is already running.
    pub fn lock(&self) -> Result<ProjectLock, String> {
        self.create_dir().map_err(|e| e.to_string())?;
        let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(self.lock_path()).map_err(|e| format!("cannot open {}: {e}", self.lock_path().display()))?;
        // SAFETY: flock on a descriptor we own.
        let r = unsafe { nix::libc::flock(file.as_raw_fd(), nix::libc::LOCK_EX | nix::libc::LOCK_NB) };
        if r != 0 {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(format!(
                "project {} is already running{} (state in {}); stop it with `corral down` first",
                self.id,
                if holder.is_empty() { String::new() } else { format!(" (corral pid {holder})") },
                self.dir.display()
            ));
        }
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "{}", std::process::id());
        Ok(ProjectLock { _file: file })
    }

    /// At the end of a run, while still holding the lock: removes the lock file,
    /// then the state directory if nothing else (a detached run's logs) is in it.
    pub fn release(&self, lock: ProjectLock) {
        let _ = std::fs::remove_file(self.lock_path());
        drop(lock);
        let _ = std::fs::remove_dir(&self.dir);
    }

    /// Updates the pid in the lock file (after a detached fork).
    pub fn record_pid(&self, lock: &mut ProjectLock) {
        let _ = lock._file.set_len(0);
        let _ = lock._file.rewind();
        let _ = write!(lock._file, "{}", std::process::id());
    }
}

/// Held for the life of the running corral; close-on-exec, so no child keeps it.
pub struct ProjectLock {
    _file: File,
}

/// `$XDG_RUNTIME_DIR/corral`, else `/tmp/corral-<uid>`.
pub fn base_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d).join("corral"),
        None => PathBuf::from(format!("/tmp/corral-{}", nix::unistd::getuid())),
    }
}

/// A small, stable, dependency-free hash (FNV-1a, 64 bit).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100000001b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_the_name_and_the_root() {
        let a = Project::new("dev", Path::new("/home/u/one"));
        assert!(a.id.starts_with("dev-") && a.id.len() == 12, "{}", a.id);
        assert_eq!(a, Project::new("dev", Path::new("/home/u/one")), "stable");
        assert_ne!(a.id, Project::new("dev", Path::new("/home/u/two")).id);
        assert_ne!(a.id, Project::new("test", Path::new("/home/u/one")).id);
        assert!(Project::new("a b/c", Path::new("/")).id.starts_with("a_b_c-"));
    }

    #[test]
    fn the_lock_is_exclusive_and_released_with_its_holder() {
        let tmp = tempfile::tempdir().unwrap();
        let p = Project { id: "t".into(), dir: tmp.path().join("corral").join("t") };
        let held = p.lock().unwrap();
        let err = p.lock().err().unwrap();
        assert!(err.contains("already running (corral pid"), "{err}");
        drop(held);
        p.lock().unwrap();
        let mode = std::fs::metadata(&p.dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
}
