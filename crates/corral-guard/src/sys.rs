//! Raw Linux system calls: the only contact the guardian has with the world.
//! No libc: x86_64 and aarch64 are supported (their numbers and calling
//! conventions below); other targets fail to build with a clear error.

use core::arch::asm;

#[cfg(not(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64"))))]
compile_error!("corral-guard makes raw Linux system calls on x86_64 and aarch64 only");

#[cfg(target_arch = "x86_64")]
mod nr {
    pub const READ: usize = 0;
    pub const WRITE: usize = 1;
    pub const CLOSE: usize = 3;
    pub const RT_SIGACTION: usize = 13;
    pub const GETPID: usize = 39;
    pub const KILL: usize = 62;
    pub const GETDENTS64: usize = 217;
    pub const CLOCK_GETTIME: usize = 228;
    pub const CLOCK_NANOSLEEP: usize = 230;
    pub const EXIT_GROUP: usize = 231;
    pub const OPENAT: usize = 257;
    pub const UNLINKAT: usize = 263;
    pub const PRCTL: usize = 157;
}

#[cfg(target_arch = "aarch64")]
mod nr {
    pub const READ: usize = 63;
    pub const WRITE: usize = 64;
    pub const CLOSE: usize = 57;
    pub const RT_SIGACTION: usize = 134;
    pub const GETPID: usize = 172;
    pub const KILL: usize = 129;
    pub const GETDENTS64: usize = 61;
    pub const CLOCK_GETTIME: usize = 113;
    pub const CLOCK_NANOSLEEP: usize = 115;
    pub const EXIT_GROUP: usize = 94;
    pub const OPENAT: usize = 56;
    pub const UNLINKAT: usize = 35;
    pub const PRCTL: usize = 167;
}

#[cfg(target_arch = "x86_64")]
unsafe fn syscall(n: usize, a: usize, b: usize, c: usize, d: usize) -> isize {
    let ret: isize;
    // SAFETY: the caller passes arguments valid for system call `n`.
    unsafe {
        asm!("syscall", inlateout("rax") n as isize => ret, in("rdi") a, in("rsi") b, in("rdx") c, in("r10") d,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

#[cfg(target_arch = "aarch64")]
unsafe fn syscall(n: usize, a: usize, b: usize, c: usize, d: usize) -> isize {
    let ret: isize;
    // SAFETY: the caller passes arguments valid for system call `n`.
    unsafe {
        asm!("svc 0", in("x8") n, inlateout("x0") a as isize => ret, in("x1") b, in("x2") c, in("x3") d, options(nostack));
    }
    ret
}

const EINTR: isize = -4;
const AT_FDCWD: isize = -100;
const AT_REMOVEDIR: usize = 0x200;
const O_RDONLY: usize = 0;
const O_WRONLY: usize = 1;
const O_CLOEXEC: usize = 0o2000000;
const CLOCK_MONOTONIC: usize = 1;
pub const SIGKILL: i32 = 9;

/// A NUL-terminated path in a fixed buffer (the guardian never allocates).
/// `N` bounds it, terminating NUL included.
pub struct Path<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Path<N> {
    pub const fn new() -> Self {
        Path { buf: [0; N], len: 0 }
    }
    /// Drops what follows the first `len` bytes (to reuse a prefix).
    pub fn truncate(&mut self, len: usize) {
        if len < self.len {
            self.len = len;
            self.buf[len] = 0;
        }
    }
    /// Appends `part`; false (and the path unchanged) if it does not fit.
    pub fn push(&mut self, part: &[u8]) -> bool {
        if self.len + part.len() >= self.buf.len() || part.contains(&0) {
            return false;
        }
        self.buf[self.len..self.len + part.len()].copy_from_slice(part);
        self.len += part.len();
        self.buf[self.len] = 0;
        true
    }
    pub fn push_num(&mut self, n: u64) -> bool {
        let mut digits = [0u8; 20];
        self.push(crate::text::format_u64(n, &mut digits))
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
    fn as_ptr(&self) -> usize {
        self.buf.as_ptr() as usize
    }
}

pub fn read(fd: i32, buf: &mut [u8]) -> isize {
    loop {
        // SAFETY: `buf` is writable for its length.
        let n = unsafe { syscall(nr::READ, fd as usize, buf.as_mut_ptr() as usize, buf.len(), 0) };
        if n != EINTR {
            return n;
        }
    }
}

/// Writes all of `buf` (best effort: an error ends it).
pub fn write_all(fd: i32, mut buf: &[u8]) {
    while !buf.is_empty() {
        // SAFETY: `buf` is readable for its length.
        let n = unsafe { syscall(nr::WRITE, fd as usize, buf.as_ptr() as usize, buf.len(), 0) };
        if n == EINTR {
            continue;
        }
        if n <= 0 {
            return;
        }
        buf = &buf[n as usize..];
    }
}

/// An open file descriptor, closed when dropped.
pub struct Fd(i32);

impl Fd {
    pub fn raw(&self) -> i32 {
        self.0
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: closes a descriptor this value owns.
        unsafe { syscall(nr::CLOSE, self.0 as usize, 0, 0, 0) };
    }
}

fn open<const N: usize>(path: &Path<N>, flags: usize) -> Option<Fd> {
    // SAFETY: `path` is NUL-terminated.
    let fd = unsafe { syscall(nr::OPENAT, AT_FDCWD as usize, path.as_ptr(), flags | O_CLOEXEC, 0) };
    (fd >= 0).then_some(Fd(fd as i32))
}

pub fn open_read<const N: usize>(path: &Path<N>) -> Option<Fd> {
    open(path, O_RDONLY)
}

/// Writes `data` to the file at `path`; whether all of it was written.
pub fn write_file<const N: usize>(path: &Path<N>, data: &[u8]) -> bool {
    let Some(fd) = open(path, O_WRONLY) else { return false };
    // SAFETY: `data` is readable for its length.
    let n = unsafe { syscall(nr::WRITE, fd.raw() as usize, data.as_ptr() as usize, data.len(), 0) };
    n == data.len() as isize
}

/// Reads the start of the file at `path` into `buf`: the length read.
pub fn read_file<const N: usize>(path: &Path<N>, buf: &mut [u8]) -> Option<usize> {
    let fd = open_read(path)?;
    let mut len = 0;
    while len < buf.len() {
        let n = read(fd.raw(), &mut buf[len..]);
        if n < 0 {
            return None;
        }
        if n == 0 {
            break;
        }
        len += n as usize;
    }
    Some(len)
}

pub fn getdents(dir: &Fd, buf: &mut [u8]) -> isize {
    // SAFETY: `buf` is writable for its length.
    unsafe { syscall(nr::GETDENTS64, dir.raw() as usize, buf.as_mut_ptr() as usize, buf.len(), 0) }
}

pub fn rmdir<const N: usize>(path: &Path<N>) -> bool {
    // SAFETY: `path` is NUL-terminated.
    unsafe { syscall(nr::UNLINKAT, AT_FDCWD as usize, path.as_ptr(), AT_REMOVEDIR, 0) == 0 }
}

/// Names the process (its `comm`, what `ps` shows): run from memory, it
/// would otherwise be called after the descriptor it was exec'd through.
pub fn set_name(name: &[u8]) {
    const PR_SET_NAME: usize = 15;
    debug_assert!(name.last() == Some(&0));
    // SAFETY: prctl(PR_SET_NAME) reads a NUL-terminated string of at most 16 bytes.
    unsafe { syscall(nr::PRCTL, PR_SET_NAME, name.as_ptr() as usize, 0, 0) };
}

pub fn getpid() -> i32 {
    // SAFETY: no arguments.
    unsafe { syscall(nr::GETPID, 0, 0, 0, 0) as i32 }
}

/// kill(2); a process that no longer exists is not an error worth reporting.
pub fn kill(pid: i32, sig: i32) {
    if pid > 0 {
        // SAFETY: kill(2) has no memory arguments.
        unsafe { syscall(nr::KILL, pid as usize, sig as usize, 0, 0) };
    }
}

/// Signals process group `pgid`. Never 0 (our own group) or 1 (`kill(-1)`
/// would reach every process).
pub fn kill_group(pgid: i32, sig: i32) {
    if pgid > 1 {
        // SAFETY: kill(2) has no memory arguments.
        unsafe { syscall(nr::KILL, (-pgid) as isize as usize, sig as usize, 0, 0) };
    }
}

/// Sets signal `sig`'s disposition to "ignore".
pub fn ignore_signal(sig: i32) {
    // struct kernel_sigaction: handler, flags, restorer, mask (the same layout on x86_64 and aarch64).
    let action: [usize; 4] = [1 /* SIG_IGN */, 0, 0, 0];
    // SAFETY: `action` is a valid kernel_sigaction; no old action is asked for.
    unsafe { syscall(nr::RT_SIGACTION, sig as usize, action.as_ptr() as usize, 0, 8) };
}

/// Milliseconds on the monotonic clock.
pub fn now_ms() -> u64 {
    let mut ts = [0i64; 2];
    // SAFETY: `ts` is a writable struct timespec.
    unsafe { syscall(nr::CLOCK_GETTIME, CLOCK_MONOTONIC, ts.as_mut_ptr() as usize, 0, 0) };
    ts[0] as u64 * 1000 + ts[1] as u64 / 1_000_000
}

pub fn sleep_ms(ms: u64) {
    let ts = [(ms / 1000) as i64, ((ms % 1000) * 1_000_000) as i64];
    // SAFETY: `ts` is a readable struct timespec; no remainder is asked for.
    unsafe { syscall(nr::CLOCK_NANOSLEEP, CLOCK_MONOTONIC, 0, ts.as_ptr() as usize, 0) };
}

pub fn exit(status: i32) -> ! {
    loop {
        // SAFETY: exit_group(2) does not return.
        unsafe { syscall(nr::EXIT_GROUP, status as usize, 0, 0, 0) };
    }
}
