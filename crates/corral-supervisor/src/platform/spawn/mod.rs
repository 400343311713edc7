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

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::libc;

mod child;
mod clone;
mod prepared;
#[cfg(test)]
mod tests;

pub(crate) use child::Child;
use prepared::{resolve, Prepared};

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

type PreExec = Box<dyn FnMut() -> io::Result<()> + Send + Sync>;

/// A program to start, built like std's `Command`.
pub(crate) struct Command {
    program: OsString,
    args: Vec<OsString>,
    /// Without `env_clear`: corral's own environment, with `env_set` applied.
    env_clear: bool,
    env_set: Vec<(OsString, OsString)>,
    /// Variables set to the child's own pid.
    pid_vars: Vec<String>,
    /// Descriptors to place in the child: (source, target).
    fds: Vec<(RawFd, RawFd)>,
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
            pid_vars: Vec::new(),
            fds: Vec::new(),
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
        self.env_set.push((k.as_ref().to_os_string(), v.as_ref().to_os_string()));
        self
    }
    pub(crate) fn envs<I: IntoIterator<Item = (K, V)>, K: AsRef<OsStr>, V: AsRef<OsStr>>(&mut self, vars: I) -> &mut Command {
        for (k, v) in vars {
            self.env(k, v);
        }
        self
    }
    /// Sets `name` to the child's own pid (written after the fork; see [`prepared`]).
    pub(crate) fn env_pid(&mut self, name: &str) -> &mut Command {
        self.pid_vars.push(name.to_string());
        self
    }
    /// Makes `source` the child's descriptor `target`, without close-on-exec
    /// (see [`super::fds::place`]).
    pub(crate) fn place_fd(&mut self, source: RawFd, target: RawFd) -> &mut Command {
        self.fds.push((source, target));
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
    /// `f` runs between fork and exec, in memory shared with corral: only
    /// async-signal-safe calls, no allocation, no locks, no writes to
    /// anything but its own captured values.
    pub(crate) unsafe fn pre_exec(&mut self, f: impl FnMut() -> io::Result<()> + Send + Sync + 'static) -> &mut Command {
        self.pre_exec.push(Box::new(f));
        self
    }

    /// The environment the child gets (later settings of a name win).
    fn environment(&self) -> Vec<(OsString, OsString)> {
        // The last setting of a name wins; corral's own variables fill in the rest unless cleared.
        let mut seen = std::collections::HashSet::new();
        let mut vars: Vec<(OsString, OsString)> = self.env_set.iter().rev().filter(|(k, _)| seen.insert(k.as_os_str())).cloned().collect();
        vars.reverse();
        if !self.env_clear {
            vars.extend(std::env::vars_os().filter(|(k, _)| !seen.contains(k.as_os_str())));
        }
        vars
    }

    /// Starts the child, inside the cgroup whose directory is open as
    /// `cgroup.0` (and whose `cgroup.procs` is open as `cgroup.1`, for the fallback).
    pub(crate) fn spawn(self, cgroup: Option<(RawFd, RawFd)>) -> io::Result<Child> {
        let clone3 = clone::CLONE3_WORKS.load(std::sync::atomic::Ordering::Relaxed);
        self.spawn_with(cgroup, clone3)
    }

    /// [`Self::spawn`], with `clone3` or (`false`) the fork fallback.
    fn spawn_with(mut self, cgroup: Option<(RawFd, RawFd)>, clone3: bool) -> io::Result<Child> {
        if self.fds.len() > super::fds::MAX_FDS {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("at most {} descriptors can be passed", super::fds::MAX_FDS)));
        }
        let cwd = self.cwd.clone().unwrap_or_else(|| PathBuf::from("."));
        if !cwd.is_dir() {
            return Err(io::Error::other(format!("working directory {} does not exist or is not a directory", cwd.display())));
        }
        let env = self.environment();
        let path_var = env.iter().find(|(k, _)| k == "PATH").map(|(_, v)| v.as_os_str());
        let path = resolve(&self.program, path_var, &cwd)?;
        let argv: Vec<&OsStr> = std::iter::once(self.program.as_os_str()).chain(self.args.iter().map(|a| a.as_os_str())).collect();
        let prepared = Prepared::new(&path, &argv, &env, &self.pid_vars, self.cwd.as_deref())?;
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
            fds: &self.fds,
            handlers_cleared: false,
            pre_exec: &mut self.pre_exec,
            report: report_w.as_raw_fd(),
        };
        // SAFETY: `setup` holds only what was prepared above; see clone::start.
        let (pid, pidfd) = unsafe { clone::start(&mut setup, cgroup, clone3)? };
        drop(report_w);
        drop(self.stdio);
        drop(null);
        let mut child = match Child::new(pid, pidfd) {
            Ok(c) => c,
            Err(e) => {
                kill_and_reap(pid);
                return Err(e);
            }
        };
        // End of file: the child exec'd. Four bytes: the errno of what failed.
        let mut errno = [0u8; 4];
        let mut got = 0;
        while got < 4 {
            match nix::unistd::read(report_r.as_raw_fd(), &mut errno[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    // SAFETY: kill(2) of our own child, not yet reaped; Drop reaps it.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                    return Err(e.into());
                }
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

/// A child that cannot be handed over: killed and reaped at once.
fn kill_and_reap(pid: i32) {
    // SAFETY: kill(2) and waitpid(2) on our own child, which nobody else reaps.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
}

fn open_null() -> io::Result<OwnedFd> {
    Ok(std::fs::OpenOptions::new().read(true).write(true).open("/dev/null")?.into())
}
