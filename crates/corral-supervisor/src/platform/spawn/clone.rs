//! The fork itself, and the child from fork to exec.
//!
//! On x86_64 and aarch64 the child is created the way `posix_spawn` creates
//! it: `clone3(CLONE_VM | CLONE_VFORK)` on a small stack of its own. It
//! shares corral's memory until it execs, so nothing is copied: no page
//! tables, and no copy-on-write faults in corral afterwards. With a plain
//! fork those grew with corral's size and cost about 0.45 ms of kernel time
//! per process at 1,000 processes, measured here. The calling thread waits
//! (that is what CLONE_VFORK does) until the child has exec'd or exited.
//!
//! Because the memory is shared, the child writes nothing of corral's: it
//! only reads what [`super::Prepared`] holds, runs the caller's `pre_exec`
//! steps (which may write only into memory prepared for them), and makes
//! system calls. Signals stay blocked from before the clone until the child
//! has no handler of corral's left (`CLONE_CLEAR_SIGHAND`, Linux 5.5), so
//! none can run on the child's stack and set corral's flags; a stop signal
//! that arrived meanwhile (a ^Z meant for corral's terminal group, which the
//! child was in until its `setpgid`) is discarded, or the child would stop
//! before exec with the parent's thread waiting on it forever.
//!
//! Elsewhere (other architectures, or where `clone3` or one of its flags is
//! refused: Linux before 5.7, seccomp filters) the child is forked
//! classically, resets corral's handlers itself, and joins the cgroup by
//! writing `cgroup.procs`.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

use nix::libc;

use super::{PreExec, Prepared};

/// Whether `clone3` works here (cleared at its first refusal).
pub(super) static CLONE3_WORKS: AtomicBool = AtomicBool::new(true);

/// What the child needs from fork to exec.
pub(super) struct Setup<'a> {
    pub(super) prepared: &'a Prepared,
    pub(super) stdio: [RawFd; 3],
    pub(super) group: bool,
    /// `cgroup.procs` to join by writing (the fallback only).
    pub(super) join: Option<RawFd>,
    /// Descriptors to place: (source, target).
    pub(super) fds: &'a [(RawFd, RawFd)],
    /// Whether the handlers are already cleared (`CLONE_CLEAR_SIGHAND`).
    pub(super) handlers_cleared: bool,
    pub(super) pre_exec: &'a mut [PreExec],
    /// Where the child reports the errno of a failed step.
    pub(super) report: RawFd,
}

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_VM: u64 = 0x100;
const CLONE_VFORK: u64 = 0x4000;
const CLONE_PIDFD: u64 = 0x1000;
const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// The child's stack while it shares corral's memory: its steps are a few
/// system calls deep.
const CHILD_STACK: usize = 64 * 1024;

/// Starts the child described by `setup`, inside the cgroup `(dir, procs)`
/// when given; with `clone3` unless `use_clone3` is false. Returns its pid
/// and, from `clone3`, its pidfd. The child reports its own failures through
/// `setup.report`.
///
/// # Safety
/// `setup` must hold only memory prepared before the call; see the module doc.
pub(super) unsafe fn start(setup: &mut Setup, cgroup: Option<(RawFd, RawFd)>, use_clone3: bool) -> io::Result<(libc::pid_t, Option<OwnedFd>)> {
    let old_mask = block_all_signals();
    let started = if use_clone3 { clone3(setup, cgroup.map(|c| c.0)) } else { Err(io::Error::from_raw_os_error(libc::ENOSYS)) };
    let result = match started {
        Ok(r) => Ok(r),
        Err(e) if refused(&e) => {
            if use_clone3 {
                tracing::debug!("clone3 refused ({e}); processes are forked and join the cgroup through cgroup.procs");
                CLONE3_WORKS.store(false, Ordering::Relaxed);
            }
            setup.join = cgroup.map(|c| c.1);
            setup.handlers_cleared = false;
            match libc::fork() {
                0 => child(setup),
                -1 => Err(io::Error::last_os_error()),
                pid => Ok((pid, None)),
            }
        }
        Err(e) => Err(e),
    };
    libc::pthread_sigmask(libc::SIG_SETMASK, &old_mask, std::ptr::null_mut());
    result
}

/// Errors after which the classic fork is tried instead.
fn refused(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EINVAL) | Some(libc::EPERM) | Some(libc::EOPNOTSUPP) | Some(libc::EBADF) | Some(libc::E2BIG))
}

unsafe fn block_all_signals() -> libc::sigset_t {
    let mut all: libc::sigset_t = std::mem::zeroed();
    let mut old: libc::sigset_t = std::mem::zeroed();
    libc::sigfillset(&mut all);
    libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
    old
}

/// `clone3` with a pidfd, into `cgroup`; sharing memory on a stack of its own
/// where the architecture is known, else with fork semantics.
unsafe fn clone3(setup: &mut Setup, cgroup: Option<RawFd>) -> io::Result<(libc::pid_t, Option<OwnedFd>)> {
    let mut pidfd: RawFd = -1;
    setup.handlers_cleared = true;
    let mut args = CloneArgs { flags: CLONE_PIDFD | CLONE_CLEAR_SIGHAND, pidfd: &mut pidfd as *mut RawFd as u64, exit_signal: libc::SIGCHLD as u64, ..Default::default() };
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd as u64;
    }
    let pid = shared_memory_clone(&mut args, setup)?;
    let pidfd = (pidfd >= 0).then(|| OwnedFd::from_raw_fd(pidfd));
    Ok((pid, pidfd))
}

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
unsafe fn shared_memory_clone(args: &mut CloneArgs, setup: &mut Setup) -> io::Result<libc::pid_t> {
    let stack = ChildStack::new()?;
    args.flags |= CLONE_VM | CLONE_VFORK;
    args.stack = stack.base as u64;
    args.stack_size = CHILD_STACK as u64;
    let entry: extern "C" fn(*mut Setup) -> ! = child_entry;
    let ret = raw_clone3(args, setup, entry);
    drop(stack);
    if ret < 0 {
        return Err(io::Error::from_raw_os_error(-ret as i32));
    }
    Ok(ret as libc::pid_t)
}

/// Other architectures: `clone3` with fork semantics (the child is a copy).
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
unsafe fn shared_memory_clone(args: &mut CloneArgs, setup: &mut Setup) -> io::Result<libc::pid_t> {
    match libc::syscall(libc::SYS_clone3, args as *mut CloneArgs, std::mem::size_of::<CloneArgs>()) {
        0 => child(setup),
        r if r < 0 => Err(io::Error::last_os_error()),
        pid => Ok(pid as libc::pid_t),
    }
}

/// Where the child starts on its own stack.
extern "C" fn child_entry(setup: *mut Setup) -> ! {
    // SAFETY: `setup` points to the parent's Setup, alive while the parent
    // waits (CLONE_VFORK); see the module doc.
    unsafe { child(&mut *setup) }
}

/// `clone3(args)`; the child calls `entry(setup)` on the stack `args` gives.
/// Returns the child's pid, or a negative errno.
#[cfg(target_arch = "x86_64")]
unsafe fn raw_clone3(args: &mut CloneArgs, setup: *mut Setup, entry: extern "C" fn(*mut Setup) -> !) -> i64 {
    let ret: i64;
    std::arch::asm!(
        "syscall",
        "test rax, rax",
        "jnz 2f",
        // The child: the kernel has set rsp to the top of its stack.
        "xor ebp, ebp",
        "mov rdi, r12",
        "call r13",
        "ud2",
        "2:",
        inlateout("rax") libc::SYS_clone3 => ret,
        in("rdi") args as *mut CloneArgs,
        in("rsi") std::mem::size_of::<CloneArgs>(),
        in("r12") setup,
        in("r13") entry,
        lateout("rcx") _,
        lateout("r11") _,
        options(nostack),
    );
    ret
}

#[cfg(target_arch = "aarch64")]
unsafe fn raw_clone3(args: &mut CloneArgs, setup: *mut Setup, entry: extern "C" fn(*mut Setup) -> !) -> i64 {
    let ret: i64;
    std::arch::asm!(
        "svc 0",
        "cbnz x0, 2f",
        // The child: the kernel has set sp to the top of its stack.
        "mov x29, xzr",
        "mov x0, x2",
        "blr x3",
        "brk 1",
        "2:",
        inlateout("x0") args as *mut CloneArgs as i64 => ret,
        in("x1") std::mem::size_of::<CloneArgs>(),
        in("x2") setup,
        in("x3") entry,
        in("x8") libc::SYS_clone3,
        options(nostack),
    );
    ret
}

/// A stack for the child, with an inaccessible guard page below it.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
struct ChildStack {
    map: *mut libc::c_void,
    base: *mut u8,
}

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
impl ChildStack {
    const GUARD: usize = 4096;
    fn new() -> io::Result<ChildStack> {
        // SAFETY: a fresh private anonymous mapping, owned by the returned value.
        unsafe {
            let map = libc::mmap(std::ptr::null_mut(), CHILD_STACK + Self::GUARD, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK, -1, 0);
            if map == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
            libc::mprotect(map, Self::GUARD, libc::PROT_NONE);
            Ok(ChildStack { map, base: (map as *mut u8).add(Self::GUARD) })
        }
    }
}

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: the mapping made in new(); the child that used it has exec'd or exited.
        unsafe { libc::munmap(self.map, CHILD_STACK + Self::GUARD) };
    }
}

/// Undoes corral's signal handling in a forked child (the handlers it
/// copied; ignored signals stay ignored, as std and posix_spawn leave them).
unsafe fn clear_handlers() {
    for sig in 1..libc::SIGRTMAX() {
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(sig, std::ptr::null(), &mut old) == 0 && old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != libc::SIG_IGN {
            libc::signal(sig, libc::SIG_DFL);
        }
    }
}

/// Drops pending stop signals (setting a signal to SIG_IGN discards it),
/// keeping the disposition.
unsafe fn discard_pending_stops() {
    for sig in [libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU] {
        let mut old: libc::sigaction = std::mem::zeroed();
        let mut ign: libc::sigaction = std::mem::zeroed();
        ign.sa_sigaction = libc::SIG_IGN;
        if libc::sigaction(sig, &ign, &mut old) == 0 {
            libc::sigaction(sig, &old, std::ptr::null_mut());
        }
    }
}

/// Ends the child if a `pre_exec` step panics and unwinds (never back into corral's code).
struct ExitOnUnwind;

impl Drop for ExitOnUnwind {
    fn drop(&mut self) {
        // SAFETY: _exit ends only the child.
        unsafe { libc::_exit(127) }
    }
}

/// The child, from fork to exec, in std's order. Never returns: execs, or
/// reports the errno of the failed step and exits 127.
unsafe fn child(s: &mut Setup) -> ! {
    let _unwind = ExitOnUnwind;
    let mut report = s.report;
    // Above every descriptor about to be placed, so no placement can overwrite it.
    let top = s.fds.iter().map(|(_, t)| *t).max().unwrap_or(2).max(2);
    if report <= top {
        report = libc::fcntl(report, libc::F_DUPFD_CLOEXEC, top + 1);
    }
    let fail = |e: io::Error| -> ! {
        let errno = e.raw_os_error().unwrap_or(libc::EINVAL).to_ne_bytes();
        libc::write(report, errno.as_ptr().cast(), 4);
        libc::_exit(127)
    };
    if report < 0 {
        libc::_exit(127);
    }
    if let Some(procs) = s.join {
        // The fallback: join by moving (slow, see super's doc). A failure leaves it outside.
        libc::write(procs, b"0".as_ptr().cast(), 1);
    }
    for (target, &src) in s.stdio.iter().enumerate() {
        let target = target as RawFd;
        let r = if src == target { libc::fcntl(src, libc::F_SETFD, 0) } else { libc::dup2(src, target) };
        if r < 0 {
            fail(io::Error::last_os_error());
        }
    }
    if let Err(e) = super::super::fds::place(s.fds) {
        fail(e);
    }
    if let Some(dir) = &s.prepared.cwd {
        if libc::chdir(dir.as_ptr()) < 0 {
            fail(io::Error::last_os_error());
        }
    }
    if s.group && libc::setpgid(0, 0) < 0 {
        fail(io::Error::last_os_error());
    }
    if let Err(e) = super::super::sched::restore_in_child() {
        fail(e);
    }
    if !s.handlers_cleared {
        clear_handlers();
    }
    // Rust ignores SIGPIPE; programs expect its default (std resets it too).
    libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    discard_pending_stops();
    let mut none: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut none);
    libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    for step in s.pre_exec.iter_mut() {
        if let Err(e) = step() {
            fail(e);
        }
    }
    let p = s.prepared;
    p.fill_pid_slots(libc::getpid() as u32);
    libc::execve(p.path.as_ptr(), p.argv_ptrs.as_ptr(), p.envp_ptrs.as_ptr());
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::ENOEXEC) {
        // A file without `#!`: run by the shell, as execvp does.
        libc::execve(p.sh_argv_ptrs[0], p.sh_argv_ptrs.as_ptr(), p.envp_ptrs.as_ptr());
    }
    fail(e)
}
