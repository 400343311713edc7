//! corral's guardian, without libc or std: one small process per run that
//! stops the run's processes if corral itself dies without cleaning up
//! (SIGKILL, the OOM killer, a crash).
//!
//! Why it exists, what corral tells it and what it does at the end are in the
//! module doc of `corral_supervisor::guardian`, the corral side of the same
//! pipe. This crate is the other side: its `src/main.rs` expands [`binary!`]
//! into the `corral-guard` executable, statically linked, without libc,
//! compiled and linked by `crates/corral/build.rs` (which says why not by
//! cargo) into target/<profile>/, beside corral.
//!
//! Why no libc: the guardian only waits on a pipe and then sends signals, yet
//! a std binary linked against glibc costs about 1.75 MB of resident memory
//! (1.4 MB of it shared libc pages, still counted in VmRSS), nearly a third
//! of a small run's whole footprint. This one makes its system calls itself
//! ([`sys`]), keeps what it is told in fixed tables in .bss ([`known`]) and
//! reads /proc in fixed buffers ([`procfs`]): a few pages in all.
//!
//! The crate is `no_std` except for its unit tests, which run on std.

#![cfg_attr(not(test), no_std)]
// `const fn new()` builds the tables in .bss (statics need const); a `Default` would add nothing.
#![allow(clippy::new_without_default)]

pub mod clean;
pub mod known;
pub mod line;
pub mod procfs;
pub mod sys;
pub mod text;

use known::Known;
use line::{Line, LineReader};

/// The variable that marks every process of a run (`corral_supervisor::env::RUN_ID_VAR`).
pub const RUN_ID_VAR: &[u8] = b"CORRAL_RUN_ID";

/// The guardian's life: follows corral's lines on stdin (fd 0) until `bye`
/// (exit 0, touching nothing) or end of file (corral died: clean up).
pub fn run(run_id: &[u8], run: &mut Known) -> i32 {
    // Stop and terminal signals are for corral; corral decides what happens.
    // Only SIGKILL ends the guardian, and corral notices that and starts another.
    const SIGHUP: i32 = 1;
    const SIGINT: i32 = 2;
    const SIGQUIT: i32 = 3;
    const SIGUSR1: i32 = 10;
    const SIGUSR2: i32 = 12;
    const SIGPIPE: i32 = 13;
    const SIGTERM: i32 = 15;
    for sig in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGUSR1, SIGUSR2] {
        sys::ignore_signal(sig);
    }
    let mut reader = LineReader::new();
    while let Some(line) = reader.next(|buf| sys::read(0, buf)) {
        match line::parse(line) {
            Line::Bye => return 0,
            Line::Watch(g) => run.watch(g),
            Line::Unwatch(g) => run.unwatch(g),
            Line::Hook(g) => run.hook = Some(g),
            Line::Cgroup(dir) => run.set_cgroup(dir),
            Line::Orphan(pid, start) => {
                run.add_orphan(pid, start, |p, s| procfs::stat(p).is_some_and(|st| st.start == s && st.is_live()))
            }
            Line::Unknown => {}
        }
    }
    let mut marker = sys::Path::<256>::new();
    let usable = !run_id.is_empty() && marker.push(RUN_ID_VAR) && marker.push(b"=") && marker.push(run_id);
    let stopped = clean::clean_up(usable.then(|| marker.as_bytes()), run);
    let mut n = [0u8; 20];
    let mut msg = sys::Path::<512>::new();
    msg.push(b"corral-guard: corral ended without stopping its processes; killed ");
    msg.push(text::format_u64(stopped as u64, &mut n));
    msg.push(b" process(es) of run ");
    msg.push(run_id);
    msg.push(b"\n");
    sys::write_all(2, msg.as_bytes());
    if run.orphans_dropped > 0 {
        msg.truncate(0);
        msg.push(b"corral-guard: the orphan table was full: ");
        msg.push(text::format_u64(run.orphans_dropped as u64, &mut n));
        msg.push(b" orphan(s) were not recorded\n");
        sys::write_all(2, msg.as_bytes());
    }
    0
}

/// The entry point `_start` jumps to, with the stack pointer the kernel set
/// up: argc, then the argv pointers.
///
/// # Safety
/// `sp` must be the process's initial stack pointer; call once.
pub unsafe extern "C" fn start(sp: *const usize) -> ! {
    // In .bss: zero pages the kernel maps only when written.
    static mut KNOWN: Known = Known::new();
    // SAFETY: the kernel's initial stack holds argc then argc argv pointers to C strings.
    let run_id: &[u8] = unsafe {
        if *sp > 1 {
            let arg = *(sp.add(2) as *const *const u8);
            let mut len = 0;
            while *arg.add(len) != 0 {
                len += 1;
            }
            core::slice::from_raw_parts(arg, len)
        } else {
            &[]
        }
    };
    sys::set_name(b"corral-guard\0");
    // SAFETY: `start` runs once, on the only thread: the only reference to KNOWN.
    let known = unsafe { &mut *core::ptr::addr_of_mut!(KNOWN) };
    sys::exit(run(run_id, known))
}

/// A panic (a bug) ends the guardian with status 101, saying so.
pub fn panicked() -> ! {
    sys::write_all(2, b"corral-guard: internal error\n");
    sys::exit(101)
}

/// Expands, in a `#![no_std] #![no_main] #![no_builtins]` binary crate, into
/// what a program without libc needs: `_start`, the panic handler, the memory
/// and string functions the compiler calls, and the two unwinding symbols that debug
/// builds (`panic = "unwind"`) refer to but never use (a panic aborts).
#[macro_export]
macro_rules! binary {
    () => {
        #[cfg(target_arch = "x86_64")]
        core::arch::global_asm!(
            ".globl _start",
            ".type _start,@function",
            "_start:",
            "xor ebp, ebp",
            "mov rdi, rsp",
            "and rsp, -16",
            "call {start}",
            "ud2",
            start = sym $crate::start,
        );
        #[cfg(target_arch = "aarch64")]
        core::arch::global_asm!(
            ".globl _start",
            ".type _start,%function",
            "_start:",
            "mov x29, #0",
            "mov x30, #0",
            "mov x0, sp",
            "and sp, x0, #-16",
            "bl {start}",
            "brk #1",
            start = sym $crate::start,
        );

        #[panic_handler]
        fn panic(_: &core::panic::PanicInfo) -> ! {
            $crate::panicked()
        }

        #[no_mangle]
        extern "C" fn rust_eh_personality() {}

        #[no_mangle]
        extern "C" fn _Unwind_Resume() -> ! {
            $crate::panicked()
        }

        #[no_mangle]
        unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
            let mut i = 0;
            while i < n {
                *dest.add(i) = *src.add(i);
                i += 1;
            }
            dest
        }

        #[no_mangle]
        unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
            if (dest as usize) < (src as usize) {
                let mut i = 0;
                while i < n {
                    *dest.add(i) = *src.add(i);
                    i += 1;
                }
            } else {
                let mut i = n;
                while i > 0 {
                    i -= 1;
                    *dest.add(i) = *src.add(i);
                }
            }
            dest
        }

        #[no_mangle]
        unsafe extern "C" fn memset(dest: *mut u8, c: i32, n: usize) -> *mut u8 {
            let mut i = 0;
            while i < n {
                *dest.add(i) = c as u8;
                i += 1;
            }
            dest
        }

        #[no_mangle]
        unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
            let mut i = 0;
            while i < n {
                let (x, y) = (*a.add(i), *b.add(i));
                if x != y {
                    return x as i32 - y as i32;
                }
                i += 1;
            }
            0
        }

        #[no_mangle]
        unsafe extern "C" fn strlen(s: *const u8) -> usize {
            let mut n = 0;
            while *s.add(n) != 0 {
                n += 1;
            }
            n
        }

        #[no_mangle]
        unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
            memcmp(a, b, n)
        }
    };
}
