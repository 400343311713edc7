//! Where a project's running corral lives: its identity, its state directory
//! (control socket, lock, logs of a detached run), and the lock that makes a
//! second `up` of the same project fail.
//!
//! Identity = a name (`--project`, `$CORRAL_PROJECT`, the config's `name`, or
//! the config file's stem) and the project root (`$CORRAL_PROJECT_ROOT`, decided
//! by the `corral` binary: see its `project` module and docs/config.md):
//! `dev-3f2a9c1e0b7d4a66`. The readable part is the name made safe for a file
//! name; the hex part is a 64-bit hash of the exact name *and* the root, so
//! names that read alike (`my.app`, `my_app`) or share a long prefix are
//! different projects. The state directory records the name and root it belongs
//! to (`identity`), and a lock refuses a directory recorded for another one, so
//! even a hash collision never makes two projects share a directory. The Nix
//! wrapper's config is a store path that changes with every edit, so the path of
//! the config file itself is not part of the identity; two checkouts of one
//! project are two projects.
//!
//! The state directory's parent is `$XDG_RUNTIME_DIR/corral`, else the
//! predictable `/tmp/corral-<uid>`, where another local user could plant a
//! symlink or a directory of their own first. Both levels are created with
//! mode 0700 and opened without following symlinks (`O_NOFOLLOW | O_DIRECTORY`);
//! what was opened must belong to us (a wider mode is narrowed with `fchmod` on
//! that descriptor), anything else is refused with an error naming the path.
//!
//! The lock is an `flock` on a file in the state directory, held by the
//! running corral. The kernel drops it when that process dies, even by
//! SIGKILL, so a lock is never stale; a leftover socket is removed by the next
//! corral that takes the lock.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// `<name, made safe>-<16 hex digits of the hash of the name and the root>`.
    pub id: String,
    pub dir: PathBuf,
    /// `<name>\0<root>`: what the state directory belongs to (written in its
    /// `identity` file when the lock is taken).
    pub identity: String,
}

impl Project {
    pub fn new(name: &str, root: &Path) -> Project {
        let identity = format!("{name}\0{}", root.display());
        let id = format!("{}-{:016x}", readable(name), fnv1a(identity.as_bytes()));
        Project { dir: base_dir().join(&id), id, identity }
    }

    /// The id an older corral (before the root and the exact name both went into
    /// the hash) gave this name and root, so that `ps` and `down` still find a
    /// detached run it started. Its `identity` is unknown (empty).
    pub fn legacy(name: &str, root: &Path) -> Project {
        let id = format!("{}-{:08x}", readable(name), fnv1a(root.as_os_str().as_encoded_bytes()) as u32);
        Project { dir: base_dir().join(&id), id, identity: String::new() }
    }

    /// Where the state directory records what it belongs to.
    pub fn identity_path(&self) -> PathBuf {
        self.dir.join("identity")
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

    /// Creates the state directory and its parent with mode 0700, without
    /// following symlinks, refusing what belongs to another user or is not a
    /// directory (see the module doc).
    pub fn create_dir(&self) -> io::Result<()> {
        for dir in [self.dir.parent().expect("under a base dir"), &self.dir] {
            private_dir(dir)?;
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
        self.claim()?;
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "{}", std::process::id());
        Ok(ProjectLock { _file: file })
    }

    /// Under the lock: records our identity in the state directory, or refuses a
    /// directory recorded for another project (a hash collision, never silent).
    fn claim(&self) -> Result<(), String> {
        let path = self.identity_path();
        match std::fs::read(&path) {
            Ok(found) if found != self.identity.as_bytes() && !self.identity.is_empty() => Err(format!(
                "the state directory {} belongs to another project ({}); refusing to share it with {}",
                self.dir.display(),
                String::from_utf8_lossy(&found).replace('\0', " in "),
                self.identity.replace('\0', " in ")
            )),
            Ok(_) => Ok(()),
            Err(_) => {
                let mut f = OpenOptions::new().write(true).create(true).truncate(true).custom_flags(nix::libc::O_NOFOLLOW).mode(0o600).open(&path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                f.write_all(self.identity.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))
            }
        }
    }

    /// At the end of a run, while still holding the lock: removes the lock file,
    /// then the state directory if nothing else (a detached run's logs) is in it.
    pub fn release(&self, lock: ProjectLock) {
        let _ = std::fs::remove_file(self.lock_path());
        let only_identity = std::fs::read_dir(&self.dir).is_ok_and(|entries| entries.flatten().all(|e| e.file_name() == "identity"));
        if only_identity {
            let _ = std::fs::remove_file(self.identity_path());
        }
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

/// The name as it can appear in a file name: ASCII letters, digits, `-` and `_`
/// kept, anything else `_`, at most 40 characters (the hash tells names apart).
fn readable(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).take(40).collect()
}

/// Creates `dir` (mode 0700) unless it exists, then opens it without following
/// a symlink and checks what was opened: a directory, ours; group or other
/// access is removed through the descriptor.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    let refuse = |why: String| io::Error::new(io::ErrorKind::PermissionDenied, format!("refusing the state directory {}: {why}", dir.display()));
    match DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io::Error::new(e.kind(), format!("cannot create {}: {e}", dir.display()))),
    }
    let opened = OpenOptions::new().read(true).custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_DIRECTORY | nix::libc::O_CLOEXEC).open(dir);
    let handle = match opened {
        Ok(f) => f,
        // (With O_DIRECTORY, Linux reports a symlink as ENOTDIR: say which it is.)
        Err(e) if matches!(e.raw_os_error(), Some(nix::libc::ELOOP | nix::libc::ENOTDIR)) => {
            let link = std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink());
            return Err(refuse(if link { "it is a symbolic link".into() } else { "it is not a directory".into() }));
        }
        Err(e) => return Err(io::Error::new(e.kind(), format!("cannot open {}: {e}", dir.display()))),
    };
    let meta = handle.metadata()?;
    let me = nix::unistd::getuid().as_raw();
    if meta.uid() != me {
        return Err(refuse(format!("it belongs to uid {}, not to uid {me}", meta.uid())));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        handle.set_permissions(std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
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
        assert!(a.id.starts_with("dev-") && a.id.len() == 20, "{}", a.id);
        assert_eq!(a, Project::new("dev", Path::new("/home/u/one")), "stable");
        assert_ne!(a.id, Project::new("dev", Path::new("/home/u/two")).id);
        assert_ne!(a.id, Project::new("test", Path::new("/home/u/one")).id);
        assert!(Project::new("a b/c", Path::new("/")).id.starts_with("a_b_c-"));
        // Names that read alike are different projects.
        assert_ne!(Project::new("my.app", Path::new("/p")).id, Project::new("my_app", Path::new("/p")).id);
        let long = "x".repeat(40);
        assert_ne!(Project::new(&format!("{long}a"), Path::new("/p")).id, Project::new(&format!("{long}b"), Path::new("/p")).id);
        // The older scheme, still found by clients.
        assert!(Project::legacy("dev", Path::new("/home/u/one")).id.len() == 12);
    }

    #[test]
    fn a_state_directory_recorded_for_another_project_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("corral").join("t");
        let a = Project { id: "t".into(), dir: dir.clone(), identity: "a\0/one".into() };
        let b = Project { id: "t".into(), dir, identity: "b\0/two".into() };
        a.release(a.lock().unwrap());
        let held = a.lock().unwrap();
        drop(held);
        let err = b.lock().err().unwrap();
        assert!(err.contains("belongs to another project (a in /one)"), "{err}");
    }

    #[test]
    fn a_planted_symlink_or_foreign_directory_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("elsewhere");
        std::fs::create_dir(&target).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let link = tmp.path().join("corral-link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = private_dir(&link).unwrap_err().to_string();
        assert!(err.contains("is a symbolic link"), "{err}");
        assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o7777, 0o1777, "the target was not touched");
        let file = tmp.path().join("a-file");
        std::fs::write(&file, "").unwrap();
        assert!(private_dir(&file).unwrap_err().to_string().contains("is not a directory"));
        let wide = tmp.path().join("wide");
        std::fs::create_dir(&wide).unwrap();
        std::fs::set_permissions(&wide, std::fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&wide).unwrap();
        assert_eq!(std::fs::metadata(&wide).unwrap().permissions().mode() & 0o777, 0o700, "narrowed");
    }

    #[test]
    fn the_lock_is_exclusive_and_released_with_its_holder() {
        let tmp = tempfile::tempdir().unwrap();
        let p = Project { id: "t".into(), dir: tmp.path().join("corral").join("t"), identity: "t\0/".into() };
        let held = p.lock().unwrap();
        let err = p.lock().err().unwrap();
        assert!(err.contains("already running (corral pid"), "{err}");
        drop(held);
        p.lock().unwrap();
        let mode = std::fs::metadata(&p.dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
}
