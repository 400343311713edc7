//! Everything `execve` needs, allocated before the fork: the child, which
//! may share corral's memory, only reads it (and writes its own pid into
//! slots made for that).

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::raw::c_char;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Room for any pid (at most 10 decimal digits); the entry's NUL follows.
pub(super) const PID_DIGITS: usize = 10;

pub(super) struct Prepared {
    pub(super) path: CString,
    pub(super) cwd: Option<CString>,
    pub(super) argv_ptrs: Vec<*const c_char>,
    /// `/bin/sh PATH ARGS…`: what execvp runs when a file without `#!` fails with ENOEXEC.
    pub(super) sh_argv_ptrs: Vec<*const c_char>,
    pub(super) envp_ptrs: Vec<*const c_char>,
    /// Where the child writes its pid's digits (inside `env` entries).
    pub(super) pid_slots: Vec<*mut c_char>,
    _argv: Vec<CString>,
    _sh: CString,
    /// NUL-terminated entries; their heap buffers never move once built.
    _env: Vec<Box<[u8]>>,
}

// SAFETY: the raw pointers point into buffers this struct owns; only the
// child dereferences them, while the parent waits (or in its own copy).
unsafe impl Send for Prepared {}
unsafe impl Sync for Prepared {}

impl Prepared {
    /// `env` with each of `pid_vars` set to a slot the child fills with its pid.
    pub(super) fn new(path: &Path, argv: &[&OsStr], env: &[(OsString, OsString)], pid_vars: &[String], cwd: Option<&Path>) -> io::Result<Prepared> {
        let argv: Vec<CString> = argv.iter().map(|a| cstring(a.as_bytes())).collect::<io::Result<_>>()?;
        let mut entries: Vec<Box<[u8]>> = Vec::with_capacity(env.len() + pid_vars.len());
        let mut entry = |k: &[u8], v: &[u8]| -> io::Result<()> {
            if k.contains(&0) || v.contains(&0) {
                return Err(nul_error());
            }
            let mut e = Vec::with_capacity(k.len() + v.len() + 2);
            e.extend_from_slice(k);
            e.push(b'=');
            e.extend_from_slice(v);
            e.push(0);
            entries.push(e.into_boxed_slice());
            Ok(())
        };
        for (k, v) in env.iter().filter(|(k, _)| !pid_vars.iter().any(|p| k == p.as_str())) {
            entry(k.as_bytes(), v.as_bytes())?;
        }
        for var in pid_vars {
            entry(var.as_bytes(), &[b'0'; PID_DIGITS])?;
        }
        let first_slot = entries.len() - pid_vars.len();
        let pid_slots = entries[first_slot..]
            .iter_mut()
            .zip(pid_vars)
            // SAFETY: after "NAME=" the entry has PID_DIGITS bytes and its NUL.
            .map(|(e, var)| unsafe { e.as_mut_ptr().add(var.len() + 1) as *mut c_char })
            .collect();
        let path = cstring(path.as_os_str().as_bytes())?;
        let sh = cstring(b"/bin/sh")?;
        let ptrs = |v: &[CString]| v.iter().map(|c| c.as_ptr()).chain(std::iter::once(std::ptr::null())).collect::<Vec<_>>();
        let argv_ptrs = ptrs(&argv);
        let sh_argv_ptrs = [sh.as_ptr(), path.as_ptr()].into_iter().chain(argv_ptrs[1..].iter().copied()).collect();
        Ok(Prepared {
            cwd: cwd.map(|d| cstring(d.as_os_str().as_bytes())).transpose()?,
            envp_ptrs: entries.iter().map(|e| e.as_ptr() as *const c_char).chain(std::iter::once(std::ptr::null())).collect(),
            argv_ptrs,
            sh_argv_ptrs,
            pid_slots,
            path,
            _argv: argv,
            _sh: sh,
            _env: entries,
        })
    }

    /// In the child: writes its pid into every slot (no allocation).
    pub(super) unsafe fn fill_pid_slots(&self, pid: u32) {
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
    }
}

fn nul_error() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in an argument or variable")
}

pub(super) fn cstring(s: &[u8]) -> io::Result<CString> {
    CString::new(s).map_err(|_| nul_error())
}

/// `program` as execve needs it, found as execvp would find it from the
/// child's directory `cwd` (corral's own directory is not the child's): as
/// given when it has a slash; else the first executable file of that name
/// among `path`'s entries (the child's PATH, a default one without), where
/// relative entries and the empty entry are relative to `cwd`. The result is
/// absolute, or relative to `cwd` for a program given with a slash (the
/// child execs after entering `cwd`).
pub(super) fn resolve(program: &OsStr, path: Option<&OsStr>, cwd: &Path) -> io::Result<PathBuf> {
    if program.as_bytes().contains(&b'/') {
        return Ok(PathBuf::from(program));
    }
    let base = std::path::absolute(cwd)?;
    let path = path.map(|p| p.as_bytes()).unwrap_or(b"/usr/local/bin:/usr/bin:/bin");
    let mut denied = false;
    for dir in path.split(|b| *b == b':') {
        let candidate = base.join(OsStr::from_bytes(dir)).join(program);
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
