//! Executing a program whose environment names its own pid.
//!
//! `LISTEN_PID` and `WATCHDOG_PID` must hold the child's pid, known only after
//! fork. std's `Command` executes with an environment block captured before
//! fork, so a variable set in a `pre_exec` hook is lost whenever the command
//! has an environment of its own (the trap devenv fell into), and `setenv`
//! after fork is not async-signal-safe anyway. So corral prepares the whole
//! exec before fork (resolved path, argv, envp with fixed-width pid slots) and,
//! in the child, only writes the pid's digits into those slots, places the
//! descriptors, and calls `execve` itself. No allocation happens after fork.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::RawFd;
use std::os::raw::c_char;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::spawn::{cstring, resolve, Command};

use crate::env::Env;
use crate::plan::Program;

/// Room for any pid (at most 10 decimal digits) and the terminating NUL.
const PID_DIGITS: usize = 10;

/// Everything the child needs, allocated before fork.
struct Prepared {
    path: CString,
    _argv: Vec<CString>,
    argv_ptrs: Vec<*const c_char>,
    /// Environment entries, owned; pid slots among them are written in the child.
    envp_owned: Vec<*mut c_char>,
    envp_ptrs: Vec<*const c_char>,
    /// Where to write the pid's digits (inside `envp_owned` entries).
    pid_slots: Vec<*mut c_char>,
    fds: Vec<(RawFd, RawFd)>,
}

// SAFETY: the raw pointers point into allocations this struct owns and frees;
// they are only dereferenced in the forked child, which has no other threads.
unsafe impl Send for Prepared {}
unsafe impl Sync for Prepared {}

impl Drop for Prepared {
    fn drop(&mut self) {
        for p in self.envp_owned.drain(..) {
            // SAFETY: every entry came from CString::into_raw.
            drop(unsafe { CString::from_raw(p) });
        }
    }
}

impl Prepared {
    /// In the forked child: fills the pid slots, places the fds, execs.
    /// Returns only on failure.
    unsafe fn exec(&self) -> io::Error {
        let pid = nix::libc::getpid() as u32;
        let mut digits = [0u8; PID_DIGITS];
        let mut n = pid;
        let mut start = PID_DIGITS;
        loop {
            start -= 1;
            digits[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let len = PID_DIGITS - start;
        for &slot in &self.pid_slots {
            std::ptr::copy_nonoverlapping(digits[start..].as_ptr() as *const c_char, slot, len);
            *slot.add(len) = 0;
        }
        if let Err(e) = super::fds::place(&self.fds) {
            return e;
        }
        nix::libc::execve(self.path.as_ptr(), self.argv_ptrs.as_ptr(), self.envp_ptrs.as_ptr());
        io::Error::last_os_error()
    }
}

/// A command that runs `program` with `env`, where each of `pid_vars` is set to
/// the child's own pid, and each `(source, target)` of `fds` is placed at `target`.
pub(crate) fn command(program: &Program, cwd: &Path, env: &Env, pid_vars: &[&str], fds: Vec<(RawFd, RawFd)>) -> io::Result<Command> {
    let argv: Vec<&OsStr> = match program {
        Program::Shell { shell, argument, text } => vec![OsStr::new(shell), OsStr::new(argument), OsStr::new(text)],
        Program::Exec(args) => args.iter().map(OsStr::new).collect(),
    };
    let path = resolve(argv[0], env.get("PATH").map(|p| p.as_os_str()), cwd)?;
    let cstr = cstring;
    let argv_c: Vec<CString> = argv.iter().map(|a| cstr(a.as_bytes())).collect::<io::Result<_>>()?;
    let mut envp_owned = Vec::new();
    let mut pid_slots = Vec::new();
    for (k, v) in env.iter() {
        if pid_vars.iter().any(|p| k == *p) {
            continue;
        }
        let mut entry = k.as_bytes().to_vec();
        entry.push(b'=');
        entry.extend_from_slice(v.as_bytes());
        envp_owned.push(cstr(&entry)?.into_raw());
    }
    for var in pid_vars {
        let entry = format!("{var}={}", "0".repeat(PID_DIGITS));
        let raw = cstr(entry.as_bytes())?.into_raw();
        // SAFETY: the slot lies inside the entry: after "NAME=", PID_DIGITS bytes and a NUL.
        pid_slots.push(unsafe { raw.add(var.len() + 1) });
        envp_owned.push(raw);
    }
    let mut argv_ptrs: Vec<*const c_char> = argv_c.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut envp_ptrs: Vec<*const c_char> = envp_owned.iter().map(|p| *p as *const c_char).collect();
    envp_ptrs.push(std::ptr::null());
    let prepared = Prepared { path: cstr(path.as_os_str().as_bytes())?, _argv: argv_c, argv_ptrs, envp_owned, envp_ptrs, pid_slots, fds };

    let mut cmd = Command::new(&path);
    cmd.args(&argv[1..]).current_dir(cwd).env_clear();
    // SAFETY: Prepared::exec only uses async-signal-safe calls and memory allocated before fork.
    unsafe {
        cmd.pre_exec(move || Err(prepared.exec()));
    }
    Ok(cmd)
}
