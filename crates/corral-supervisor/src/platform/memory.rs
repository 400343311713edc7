//! corral's own memory: giving back what only the start needed.
//!
//! A run starts with a burst (the command line, the config loader, the plan,
//! a thousand spawns) and then mostly waits. What the burst made resident
//! stays counted in corral's RSS until something gives it back:
//!
//! - **code and read-only data**: the kernel maps file pages around each fault
//!   (`fault_around_bytes`, 64 KiB), so after the start most of the binary's
//!   text is resident although the steady state runs a small part of it.
//!   [`trim`] drops the page-table entries of every private, read-only file
//!   mapping whose pages are all still the file's own (`Anonymous: 0` in
//!   smaps: no copy-on-write page, so nothing relocated or patched lives
//!   there) with `MADV_DONTNEED`. The pages stay in the page cache; a later
//!   access faults them back in from there, as the first access did. Writable
//!   mappings, RELRO (relocated, then made read-only: its pages are
//!   anonymous copies), the heap and anonymous memory are never touched:
//!   dropping them would lose data. [`droppable`] is that filter, unit-tested.
//! - **the main thread's stack** below where it is now: the config loader's
//!   deep recursion left pages no frame uses any more.
//! - **the heap**: `malloc_trim` returns free pages in the middle of the heap,
//!   not only at its top.
//!
//! What this does not save: the page cache (shared, reclaimable by the kernel
//! like any cached file) and the pages the steady state touches again.
//!
//! [`limit_malloc_arenas`] keeps glibc from giving each of corral's few
//! threads an arena of its own (must run before any thread starts).

use std::io;

/// One mapping of `/proc/self/smaps`: what [`droppable`] decides on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mapping {
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// `r-xp`, `rw-p`, …
    pub(crate) perms: String,
    /// A file's path, `[heap]`, `[stack]`, `[vdso]`, or empty (anonymous).
    pub(crate) path: String,
    /// Resident KiB.
    pub(crate) rss_kb: u64,
    /// KiB of anonymous pages: for a file mapping, its copy-on-write copies.
    pub(crate) anonymous_kb: u64,
}

/// Parses `/proc/PID/smaps` text. `Anonymous` is required on every mapping
/// (a mapping without it is given `u64::MAX`, which [`droppable`] refuses).
pub(crate) fn parse_smaps(text: &str) -> Vec<Mapping> {
    let mut out: Vec<Mapping> = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else { continue };
        if let Some((a, b)) = first.split_once('-').filter(|_| !first.ends_with(':')) {
            let (Ok(start), Ok(end)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) else { continue };
            let perms = fields.next().unwrap_or("").to_string();
            // offset, device, inode, then the path (which may hold spaces).
            let path = after_fields(line, 5).to_string();
            out.push(Mapping { start, end, perms, path, rss_kb: 0, anonymous_kb: u64::MAX });
        } else if let Some(m) = out.last_mut() {
            let value = fields.next().and_then(|v| v.parse().ok());
            match (first, value) {
                ("Rss:", Some(v)) => m.rss_kb = v,
                ("Anonymous:", Some(v)) => m.anonymous_kb = v,
                _ => {}
            }
        }
    }
    out
}

/// `line` without its first `n` whitespace-separated fields (a path may hold spaces).
fn after_fields(line: &str, n: usize) -> &str {
    let mut rest = line;
    for _ in 0..n {
        rest = rest.trim_start();
        rest = rest.find(char::is_whitespace).map_or("", |i| &rest[i..]);
    }
    rest.trim()
}

/// Whether dropping `m`'s resident pages loses nothing: a private mapping of a
/// file, not writable, every page still the file's (no anonymous copy).
pub(crate) fn droppable(m: &Mapping) -> bool {
    let p = m.perms.as_bytes();
    p.len() == 4 && p[0] == b'r' && p[1] == b'-' && p[3] == b'p' && m.path.starts_with('/') && m.anonymous_kb == 0 && m.rss_kb > 0
}

/// What one [`trim`] gave back (KiB resident before it).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Trimmed {
    pub(crate) file_kb: u64,
    pub(crate) stack_kb: u64,
}

/// Below the current frame, this much of the main stack is left alone. Pages
/// below the stack pointer hold no live frame; the margin covers the calls
/// this function is making (the madvise wrapper) many times over.
const STACK_MARGIN: usize = 16 * 1024;

/// Drops the resident pages that only the start needed: clean read-only file
/// mappings, the main stack below the current frame, the heap's free pages.
/// Call from the main thread (the stack part applies to the caller's stack only
/// when it is `[stack]`).
pub(crate) fn trim() -> io::Result<Trimmed> {
    let smaps = std::fs::read_to_string("/proc/self/smaps")?;
    let mut trimmed = Trimmed::default();
    let here = &trimmed as *const Trimmed as usize;
    for m in parse_smaps(&smaps) {
        // A mapping the kernel refuses (locked pages: EINVAL) keeps its pages; the rest go on.
        if droppable(&m) {
            if advise_dontneed(m.start, m.end).is_ok() {
                trimmed.file_kb += m.rss_kb;
            }
        } else if m.path == "[stack]" && (m.start..m.end).contains(&here) {
            let below = (here - STACK_MARGIN) & !(page_size() - 1);
            if below > m.start && advise_dontneed(m.start, below).is_ok() {
                trimmed.stack_kb += ((below - m.start) / 1024) as u64;
            }
        }
    }
    trim_heap();
    Ok(trimmed)
}

fn advise_dontneed(start: usize, end: usize) -> io::Result<()> {
    // SAFETY: [start, end) is one of this process's mappings whose pages hold
    // nothing that cannot be read back (see `droppable`), or unused stack below
    // the current frame; MADV_DONTNEED does not unmap it.
    let r = unsafe { nix::libc::madvise(start as *mut nix::libc::c_void, end - start, nix::libc::MADV_DONTNEED) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { nix::libc::sysconf(nix::libc::_SC_PAGESIZE) };
    if p > 0 { p as usize } else { 4096 }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim_heap() {
    // SAFETY: malloc_trim only gives free memory back.
    unsafe { nix::libc::malloc_trim(0) };
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim_heap() {}

/// Minor page faults of this process so far: code and data pages brought in
/// since the last look (what a trim could give back again).
pub(crate) fn minor_faults() -> u64 {
    let mut usage = std::mem::MaybeUninit::<nix::libc::rusage>::zeroed();
    // SAFETY: getrusage writes a rusage into the buffer it is given.
    if unsafe { nix::libc::getrusage(nix::libc::RUSAGE_SELF, usage.as_mut_ptr()) } != 0 {
        return 0;
    }
    // SAFETY: initialised by getrusage above (and zeroed before).
    unsafe { usage.assume_init() }.ru_minflt as u64
}

/// One malloc arena for the whole process instead of one per thread: corral's
/// few threads (the output writers) allocate little, and each extra arena
/// keeps its own free memory. Call before any thread starts.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt changes a tunable; called before any other thread exists.
    unsafe {
        nix::libc::mallopt(nix::libc::M_ARENA_MAX, 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sample smaps of a corral: its binary, libc, heap, stack, anonymous memory, vdso.
    const SAMPLE: &str = "\
55d0a0000000-55d0a00e2000 r--p 00000000 fe:00 10018821                   /usr/bin/corral
Rss:                 548 kB
Anonymous:             0 kB
55d0a00e2000-55d0a04c3000 r-xp 000e2000 fe:00 10018821                   /usr/bin/corral
Rss:                3292 kB
Anonymous:             0 kB
55d0a04c3000-55d0a04e3000 r--p 004c2000 fe:00 10018821                   /usr/bin/corral
Rss:                 128 kB
Anonymous:           128 kB
55d0a04e3000-55d0a04e5000 rw-p 004e1000 fe:00 10018821                   /usr/bin/corral
Rss:                   8 kB
Anonymous:             8 kB
55d0a1000000-55d0a1046000 rw-p 00000000 00:00 0                          [heap]
Rss:                 204 kB
Anonymous:           204 kB
7f11ec465000-7f11ec48b000 r--p 00000000 fe:00 326279                     /usr/lib/x86_64-linux-gnu/libc.so.6
Rss:                 148 kB
Anonymous:             0 kB
7f11ec48b000-7f11ec5e1000 r-xp 00026000 fe:00 326279                     /usr/lib/x86_64-linux-gnu/libc.so.6
Rss:                1044 kB
Anonymous:             0 kB
7f11ec634000-7f11ec638000 r--p 001cf000 fe:00 326279                     /usr/lib/x86_64-linux-gnu/libc.so.6
Rss:                  16 kB
Anonymous:            16 kB
7f11ec638000-7f11ec63a000 rw-p 001d3000 fe:00 326279                     /usr/lib/x86_64-linux-gnu/libc.so.6
Rss:                   8 kB
Anonymous:             8 kB
7f11ec63a000-7f11ec647000 rw-p 00000000 00:00 0 
Rss:                  20 kB
Anonymous:            20 kB
7f11ec700000-7f11ec701000 r-xp 00000000 00:00 0 
Rss:                   4 kB
Anonymous:             4 kB
7f11ec710000-7f11ec711000 rw-s 00000000 00:05 1234                       /dev/shm/shared file
Rss:                   4 kB
Anonymous:             0 kB
7f11ec720000-7f11ec721000 r--s 00000000 00:05 1235                       /dev/shm/read only shared
Rss:                   4 kB
Anonymous:             0 kB
7f11ec730000-7f11ec731000 r-xp 00000000 fe:00 1236                       /usr/lib/patched.so (deleted)
Rss:                   4 kB
Anonymous:             4 kB
7f11ec758000-7f11ec75a000 r-xp 00000000 00:00 0                          [vdso]
Rss:                   4 kB
Anonymous:             0 kB
7fff44d29000-7fff44d4b000 rw-p 00000000 00:00 0                          [stack]
Rss:                 136 kB
Anonymous:           136 kB
";

    #[test]
    fn parses_ranges_permissions_paths_and_counts() {
        let maps = parse_smaps(SAMPLE);
        assert_eq!(maps.len(), 16);
        assert_eq!(maps[1], Mapping { start: 0x55d0a00e2000, end: 0x55d0a04c3000, perms: "r-xp".into(), path: "/usr/bin/corral".into(), rss_kb: 3292, anonymous_kb: 0 });
        assert_eq!(maps[9].path, "");
        assert_eq!(maps[11].path, "/dev/shm/shared file");
        assert_eq!(maps[15].path, "[stack]");
    }

    #[test]
    fn only_clean_read_only_file_mappings_are_dropped() {
        let dropped: Vec<(String, String)> = parse_smaps(SAMPLE).into_iter().filter(droppable).map(|m| (m.perms, m.path)).collect();
        let want = [("r--p", "/usr/bin/corral"), ("r-xp", "/usr/bin/corral"), ("r--p", "/usr/lib/x86_64-linux-gnu/libc.so.6"), ("r-xp", "/usr/lib/x86_64-linux-gnu/libc.so.6")];
        assert_eq!(dropped, want.map(|(p, f)| (p.to_string(), f.to_string())));
    }

    #[test]
    fn never_a_writable_relocated_anonymous_or_shared_mapping() {
        for m in parse_smaps(SAMPLE).iter().filter(|m| droppable(m)) {
            assert!(!m.perms.contains('w'), "writable: {m:?}");
            assert!(m.perms.ends_with('p'), "shared: {m:?}");
            assert_eq!(m.anonymous_kb, 0, "holds copy-on-write pages (RELRO, patched code): {m:?}");
            assert!(m.path.starts_with('/'), "not a file: {m:?}");
        }
        // A mapping whose smaps entry lacks `Anonymous:` is never trusted.
        let bare = parse_smaps("7f0000000000-7f0000001000 r-xp 00000000 fe:00 1 /usr/bin/x\nRss: 4 kB\n");
        assert!(!droppable(&bare[0]));
    }

    /// The real thing on this process: its code is dropped and still runs, its
    /// data (a relocated table of function pointers, a written static, the
    /// heap) survives.
    #[test]
    fn a_trimmed_process_runs_on() {
        use std::sync::atomic::{AtomicU64, Ordering};
        static TABLE: [fn(u64) -> u64; 2] = [|x| x + 1, |x| x * 3];
        static WRITTEN: AtomicU64 = AtomicU64::new(1);
        WRITTEN.store(0xC0FFEE, Ordering::SeqCst);
        let heap: Vec<u64> = (0..100_000).collect();
        let before = (TABLE[0](1), TABLE[1](2), heap.iter().sum::<u64>());
        let t = trim().expect("trim");
        assert!(t.file_kb > 0, "nothing dropped: {t:?}");
        assert_eq!((TABLE[0](1), TABLE[1](2), heap.iter().sum::<u64>()), before);
        assert_eq!(WRITTEN.load(Ordering::SeqCst), 0xC0FFEE);
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        assert!(parse_smaps(&smaps).iter().any(|m| m.perms == "r-xp"));
    }

    #[test]
    fn minor_faults_grow() {
        // A fresh mapping (malloc may hand back pages already touched).
        const LEN: usize = 1 << 20;
        // SAFETY: a private anonymous mapping of our own, written, then unmapped.
        unsafe {
            let p = nix::libc::mmap(std::ptr::null_mut(), LEN, nix::libc::PROT_READ | nix::libc::PROT_WRITE, nix::libc::MAP_PRIVATE | nix::libc::MAP_ANONYMOUS, -1, 0);
            assert_ne!(p, nix::libc::MAP_FAILED);
            let a = minor_faults();
            std::ptr::write_bytes(p as *mut u8, 1, LEN);
            assert!(minor_faults() > a);
            nix::libc::munmap(p, LEN);
        }
    }
}
