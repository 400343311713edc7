//! Starting a process: `clone3` straight into the run's cgroup, a pidfd to
//! wait on, and `execve` of an environment prepared before the fork.
//!
//! Why not std's (or tokio's) `Command`: every process must be inside the
//! run's cgroup before it can fork (see [`super::cgroup`]). The only way to
//! get there with `Command` is writing to `cgroup.procs` between fork and
//! exec, and that write migrates a task: the kernel waits for an RCU grace
//! period (several milliseconds, measured here at about 0.8 ms per process
//! even in a burst and 13 ms for the first), which dominated corral's start
//! time. `clone3(CLONE_INTO_CGROUP)` (Linux 5.7) creates the child in the
//! cgroup instead, at no extra cost. The same call hands back a pidfd
//! (`CLONE_PIDFD`), which the async [`Child::wait`] polls: no SIGCHLD
//! bookkeeping per child.
//!
//! The child shares corral's memory until it execs (`CLONE_VM | CLONE_VFORK`,
//! as `posix_spawn` does; see [`clone`]), so a spawn copies nothing however
//! large corral is. Everything the child needs (program path, argv, envp,
//! descriptors) is allocated before the fork; between fork and exec the child only makes
//! async-signal-safe system calls, in std's order: standard descriptors,
//! directory, process group, signal dispositions and mask, the caller's
//! `pre_exec` steps, `execve`. A failure there is reported to the parent as
//! an errno through a close-on-exec pipe, so `spawn` returns an error exactly
//! like std's does. Where `clone3` is missing (older kernels, seccomp
//! filters), the child is forked the classic way and joins the cgroup by
//! writing `cgroup.procs`.

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::raw::c_char;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;

use nix::libc;
use tokio::io::unix::AsyncFd;

/// What a standard descriptor of the child is.
pub(crate) enum Stdio {
    Null,
    Inherit,
    Fd(OwnedFd),
}

impl Stdio {
    pub(crate) fn null() -> Stdio {
        Stdio::Null
    }
}

impl From<OwnedFd> for Stdio {
    fn from(fd: OwnedFd) -> Stdio {
        Stdio::Fd(fd)
    }
}

mod clone;

type PreExec = Box<dyn FnMut() -> io::Result<()> + Send + Sync>;

/// A program to start, built like std's `Command`.
pub(crate) struct Command {
    program: OsString,
    args: Vec<OsString>,
    /// `None`: corral's own environment, with `env_set` applied.
    env_clear: bool,
    env_set: Vec<(OsString, Option<OsString>)>,
    cwd: Option<PathBuf>,
    stdio: [Stdio; 3],
    process_group: bool,
    pre_exec: Vec<PreExec>,
}

impl Command {
    pub(crate) fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            program: program.as_ref().to_os_string(),
            args: Vec::new(),
            env_clear: false,
            env_set: Vec::new(),
            cwd: None,
            stdio: [Stdio::Inherit, Stdio::Inherit, Stdio::Inherit],
            process_group: false,
            pre_exec: Vec::new(),
        }
    }
    pub(crate) fn arg(&mut self, a: impl AsRef<OsStr>) -> &mut Command {
        self.args.push(a.as_ref().to_os_string());
        self
    }
    pub(crate) fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&mut self, args: I) -> &mut Command {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }
    pub(crate) fn env_clear(&mut self) -> &mut Command {
        self.env_clear = true;
        self.env_set.clear();
        self
    }
    pub(crate) fn env(&mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> &mut Command {
        self.env_set.push((k.as_ref().to_os_string(), Some(v.as_ref().to_os_string())));
        self
    }
    pub(crate) fn envs<I: IntoIterator<Item = (K, V)>, K: AsRef<OsStr>, V: AsRef<OsStr>>(&mut self, vars: I) -> &mut Command {
        for (k, v) in vars {
            self.env(k, v);
        }
        self
    }
    pub(crate) fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }
    pub(crate) fn stdin(&mut self, s: Stdio) -> &mut Command {
        self.stdio[0] = s;
        self
    }
    pub(crate) fn stdout(&mut self, s: Stdio) -> &mut Command {
        self.stdio[1] = s;
        self
    }
    pub(crate) fn stderr(&mut self, s: Stdio) -> &mut Command {
        self.stdio[2] = s;
        self
    }
    /// Puts the child in a new process group of its own (`setpgid(0, 0)`).
    pub(crate) fn new_process_group(&mut self) -> &mut Command {
        self.process_group = true;
        self
    }
    /// A step run in the child after its descriptors, directory and group are
    /// set, before `execve`.
    ///
    /// # Safety
    /// `f` runs between fork and exec in a copy of a multi-threaded process:
    /// only async-signal-safe calls, no allocation, no locks.
    pub(crate) unsafe fn pre_exec(&mut self, f: impl FnMut() -> io::Result<()> + Send + Sync + 'static) -> &mut Command {
        self.pre_exec.push(Box::new(f));
        self
    }

    /// The environment the child gets.
    fn environment(&self) -> Vec<(OsString, OsString)> {
        let mut vars: Vec<(OsString, OsString)> = if self.env_clear { Vec::new() } else { std::env::vars_os().collect() };
        for (k, v) in &self.env_set {
            vars.retain(|(name, _)| name != k);
            if let Some(v) = v {
                vars.push((k.clone(), v.clone()));
            }
        }
        vars
    }

    /// Starts the child, inside the cgroup whose directory is open as
    /// `cgroup` (and whose `cgroup.procs` is open as `procs`, for the fallback).
    pub(crate) fn spawn(self, cgroup: Option<(RawFd, RawFd)>) -> io::Result<Child> {
        let clone3 = clone::CLONE3_WORKS.load(std::sync::atomic::Ordering::Relaxed);
        self.spawn_with(cgroup, clone3)
    }

    /// [`Self::spawn`], with `clone3` or (`false`) the fork fallback.
    fn spawn_with(mut self, cgroup: Option<(RawFd, RawFd)>, clone3: bool) -> io::Result<Child> {
        let env = self.environment();
        let cwd = self.cwd.clone().unwrap_or_else(|| PathBuf::from("."));
        let path_var = env.iter().find(|(k, _)| k == "PATH").map(|(_, v)| v.clone());
        let path = resolve(&self.program, path_var.as_deref(), &cwd)?;
        let prepared = Prepared::new(&path, std::iter::once(&self.program).chain(&self.args), &env, self.cwd.as_deref())?;
        let null = if self.stdio.iter().any(|s| matches!(s, Stdio::Null)) { Some(open_null()?) } else { None };
        let fd_of = |s: &Stdio, n: RawFd| match s {
            Stdio::Null => null.as_ref().map_or(n, |f| f.as_raw_fd()),
            Stdio::Inherit => n,
            Stdio::Fd(f) => f.as_raw_fd(),
        };
        let stdio = [fd_of(&self.stdio[0], 0), fd_of(&self.stdio[1], 1), fd_of(&self.stdio[2], 2)];
        let (report_r, report_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;

        let mut setup = clone::Setup {
            prepared: &prepared,
            stdio,
            group: self.process_group,
            join: None,
            pre_exec: &mut self.pre_exec,
            report: report_w.as_raw_fd(),
        };
        // SAFETY: `setup` holds only what was prepared above; see clone::start.
        let (pid, pidfd) = unsafe { clone::start(&mut setup, cgroup, clone3)? };
        drop(report_w);
        drop(self.stdio);
        drop(null);
        let mut child = Child::new(pid, pidfd)?;
        // End of file: the child exec'd. Four bytes: the errno of what failed.
        let mut errno = [0u8; 4];
        let mut got = 0;
        while got < 4 {
            match nix::unistd::read(report_r.as_raw_fd(), &mut errno[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        drop(prepared);
        if got == 4 {
            let _ = child.wait_blocking();
            return Err(io::Error::from_raw_os_error(i32::from_ne_bytes(errno)));
        }
        Ok(child)
    }
}

/// Everything `execve` needs, allocated before the fork.
pub(super) struct Prepared {
    pub(super) path: CString,
    pub(super) cwd: Option<CString>,
    _argv: Vec<CString>,
    pub(super) argv_ptrs: Vec<*const c_char>,
    _envp: Vec<CString>,
    pub(super) envp_ptrs: Vec<*const c_char>,
}

impl Prepared {
    fn new<'a>(path: &Path, argv: impl Iterator<Item = &'a OsString>, env: &[(OsString, OsString)], cwd: Option<&Path>) -> io::Result<Prepared> {
        let argv: Vec<CString> = argv.map(|a| cstring(a.as_bytes())).collect::<io::Result<_>>()?;
        let envp: Vec<CString> = env
            .iter()
            .map(|(k, v)| {
                let mut e = Vec::with_capacity(k.len() + v.len() + 1);
                e.extend_from_slice(k.as_bytes());
                e.push(b'=');
                e.extend_from_slice(v.as_bytes());
                cstring(&e)
            })
            .collect::<io::Result<_>>()?;
        let ptrs = |v: &[CString]| v.iter().map(|c| c.as_ptr()).chain(std::iter::once(std::ptr::null())).collect::<Vec<_>>();
        Ok(Prepared {
            path: cstring(path.as_os_str().as_bytes())?,
            cwd: cwd.map(|d| cstring(d.as_os_str().as_bytes())).transpose()?,
            argv_ptrs: ptrs(&argv),
            envp_ptrs: ptrs(&envp),
            _argv: argv,
            _envp: envp,
        })
    }
}

pub(crate) fn cstring(s: &[u8]) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in an argument or variable"))
}

fn open_null() -> io::Result<OwnedFd> {
    Ok(std::fs::OpenOptions::new().read(true).write(true).open("/dev/null")?.into())
}

/// `program` as execve needs it: as given when it has a slash (relative to the
/// child's directory), else the first executable file of that name on `path`
/// (the child's PATH; a default one without).
pub(crate) fn resolve(program: &OsStr, path: Option<&OsStr>, cwd: &Path) -> io::Result<PathBuf> {
    if program.as_bytes().contains(&b'/') {
        return Ok(PathBuf::from(program));
    }
    let path = path.map(|p| p.as_bytes()).unwrap_or(b"/usr/local/bin:/usr/bin:/bin");
    let mut denied = false;
    for dir in path.split(|b| *b == b':') {
        let dir = if dir.is_empty() { cwd.to_path_buf() } else { PathBuf::from(OsStr::from_bytes(dir)) };
        let candidate = dir.join(program);
        if let Ok(meta) = std::fs::metadata(&candidate) {
            if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
                return Ok(candidate);
            }
            denied |= meta.is_file();
        }
    }
    let kind = if denied { io::ErrorKind::PermissionDenied } else { io::ErrorKind::NotFound };
    Err(io::Error::new(kind, format!("{} not found on PATH", program.to_string_lossy())))
}

/// A started process, waited for through its pidfd.
pub(crate) struct Child {
    pid: i32,
    /// Readable once the process has ended (no pidfd: polled on SIGCHLD ticks).
    pidfd: Option<AsyncFd<OwnedFd>>,
    status: Option<ExitStatus>,
}

impl Child {
    fn new(pid: i32, pidfd: Option<OwnedFd>) -> io::Result<Child> {
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

    /// The exit status if the process has ended (reaping it), else `None`.
    pub(crate) fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(s) = self.status {
            return Ok(Some(s));
        }
        let mut raw = 0;
        // SAFETY: waitpid on our own child's pid, which only this handle reaps.
        match unsafe { libc::waitpid(self.pid, &mut raw, libc::WNOHANG) } {
            0 => Ok(None),
            r if r == self.pid => {
                self.status = Some(ExitStatus::from_raw(raw));
                Ok(self.status)
            }
            _ => Err(io::Error::last_os_error()),
        }
    }

    /// Waits until the process has ended and reaps it.
    pub(crate) async fn wait(&mut self) -> io::Result<ExitStatus> {
        loop {
            if let Some(s) = self.try_wait()? {
                return Ok(s);
            }
            match &self.pidfd {
                Some(fd) => {
                    let mut ready = fd.readable().await?;
                    ready.clear_ready();
                }
                None => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        }
    }

    /// Waits without a runtime (a child that failed to exec).
    fn wait_blocking(&mut self) -> io::Result<ExitStatus> {
        let mut raw = 0;
        // SAFETY: as in try_wait.
        if unsafe { libc::waitpid(self.pid, &mut raw, 0) } < 0 {
            return Err(io::Error::last_os_error());
        }
        self.status = Some(ExitStatus::from_raw(raw));
        Ok(ExitStatus::from_raw(raw))
    }
}

impl Drop for Child {
    /// A child dropped before it was reaped is reaped in the background, so
    /// it never stays a zombie (as tokio's Child does).
    fn drop(&mut self) {
        if self.status.is_some() || matches!(self.try_wait(), Ok(Some(_)) | Err(_)) {
            return;
        }
        if let (Ok(rt), Some(fd)) = (tokio::runtime::Handle::try_current(), self.pidfd.take()) {
            let mut rest = Child { pid: self.pid, pidfd: Some(fd), status: None };
            rt.spawn(async move {
                let _ = rest.wait().await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_a_program_with_exactly_its_environment_and_directory() {
        let dir = tempfile::tempdir().unwrap();
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg("echo \"$ONLY|${HOME:-none}|$(pwd)\"").env_clear().env("ONLY", "yes").env("PATH", "/usr/bin:/bin").current_dir(dir.path());
        cmd.stdout(Stdio::from(w)).stdin(Stdio::null());
        let mut child = cmd.spawn(None).unwrap();
        let status = child.wait().await.unwrap();
        assert!(status.success());
        let mut buf = [0u8; 256];
        let n = nix::unistd::read(r.as_raw_fd(), &mut buf).unwrap();
        let text = String::from_utf8_lossy(&buf[..n]);
        assert_eq!(text.trim(), format!("yes|none|{}", dir.path().canonicalize().unwrap().display()));
    }

    #[tokio::test]
    async fn reports_exec_failures_like_std() {
        let e = Command::new("surely-not-a-program-corral").spawn(None).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("not-executable");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        let e = Command::new(&script).spawn(None).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        let mut cmd = Command::new("true");
        cmd.current_dir(dir.path().join("missing"));
        assert_eq!(cmd.spawn(None).err().unwrap().kind(), io::ErrorKind::NotFound);
        let mut cmd = Command::new("true");
        // SAFETY: returns an error without touching anything.
        unsafe { cmd.pre_exec(|| Err(io::Error::from_raw_os_error(libc::EXDEV))) };
        assert_eq!(cmd.spawn(None).err().unwrap().raw_os_error(), Some(libc::EXDEV));
    }

    /// The child runs in corral's memory until it execs (no copy): what a
    /// `pre_exec` step stores is seen by the parent. The fork fallback copies.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    #[tokio::test]
    async fn the_child_shares_memory_until_it_execs() {
        use std::sync::atomic::{AtomicI32, Ordering::SeqCst};
        use std::sync::Arc;
        for shared in [true, false] {
            let seen = Arc::new(AtomicI32::new(0));
            let store = seen.clone();
            let mut c = Command::new("true");
            // SAFETY: getpid and an atomic store: no allocation, no lock.
            unsafe {
                c.pre_exec(move || {
                    store.store(libc::getpid(), SeqCst);
                    Ok(())
                })
            };
            let mut child = c.spawn_with(None, shared).unwrap();
            assert_eq!(seen.load(SeqCst) == child.id(), shared);
            assert!(child.wait().await.unwrap().success());
        }
    }

    #[tokio::test]
    async fn exit_statuses_and_signals_come_back() {
        let mut c = Command::new("sh");
        c.arg("-c").arg("exit 7");
        assert_eq!(c.spawn(None).unwrap().wait().await.unwrap().code(), Some(7));
        let mut c = Command::new("sleep");
        c.arg("30").new_process_group();
        let mut child = c.spawn(None).unwrap();
        assert_eq!(nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(child.id()))).unwrap().as_raw(), child.id());
        assert!(child.try_wait().unwrap().is_none());
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id()), nix::sys::signal::Signal::SIGTERM).unwrap();
        assert_eq!(child.wait().await.unwrap().signal(), Some(libc::SIGTERM));
    }

    #[tokio::test]
    async fn the_child_starts_inside_the_cgroup() {
        let Ok(cg) = super::super::cgroup::RunCgroup::create(&format!("corral-spawn-unit-{}", std::process::id())) else {
            eprintln!("SKIPPED: no writable cgroup v2 here");
            return;
        };
        let fds = cg.join_fds().unwrap();
        let mut c = Command::new("sleep");
        c.arg("30");
        let mut child = c.spawn(Some(fds.raw())).unwrap();
        assert_eq!(cg.has_member(child.id()), Some(true));
        assert_eq!(cg.pids(), [child.id()]);
        // The fallback (no clone3): forked, it joins by writing cgroup.procs, and is waited by polling.
        let mut c = Command::new("sleep");
        c.arg("30");
        let mut forked = c.spawn_with(Some(fds.raw()), false).unwrap();
        assert!(forked.pidfd.is_none());
        assert_eq!(cg.has_member(forked.id()), Some(true));
        assert_eq!(cg.pids().len(), 2);
        cg.kill();
        child.wait().await.unwrap();
        assert_eq!(forked.wait().await.unwrap().signal(), Some(libc::SIGKILL));
        cg.remove();
    }
}
