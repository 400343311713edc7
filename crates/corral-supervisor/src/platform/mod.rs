//! The Linux-specific mechanisms, behind one boundary, so a port to another
//! OS knows where to look:
//!
//! - [`procfs`]: what corral reads from /proc (children, process groups,
//!   environments of processes that left their group);
//! - [`fds`]: placing descriptors at chosen numbers between fork and exec;
//!
//! - [`cgroup`]: a cgroup v2 per run, where one can be created: containment
//!   that no double-fork or `setsid` escapes (joining it between fork and
//!   exec, membership, `cgroup.kill`);
//! - [`rlimit`]: corral's own descriptor limit raised, the original restored
//!   for the processes it starts;
//! - [`process_group`]: signalling processes and process groups, a leader
//!   that left its group;
//! - [`subreaper`]: `PR_SET_CHILD_SUBREAPER`, and reaping the orphans it brings;
//! - [`pidfd`]: waiting for a process (the guardian) without reaping it.
//! - [`pty`]: pseudo-terminals for `is_tty` processes;
//! - [`memfd`]: the guardian built into corral, run from memory;
//! - [`spawn`]: starting a process (`clone3` into the run's cgroup, a pidfd
//!   to wait on, `execve` prepared before the fork).
//! - [`memory`]: corral's own memory: code pages and the heap given back after
//!   the start (`madvise`, `malloc_trim`), one malloc arena (`mallopt`).
//! - [`sched`]: corral's threads as batch work (`SCHED_BATCH`), the default
//!   policy back for the processes it starts.
//!
//! No file outside this directory names a Linux-only mechanism; a unit test
//! below keeps it so. (The guardian has no `PR_SET_PDEATHSIG`: it reaches
//! only direct children and fires on the forking thread's exit; see
//! `guardian.rs`.)

pub(crate) mod cgroup;
pub(crate) mod fds;
pub(crate) mod memfd;
pub(crate) mod memory;
pub(crate) mod pidfd;
pub(crate) mod process_group;
pub(crate) mod procfs;
pub(crate) mod pty;
pub(crate) mod rlimit;
pub mod sched;
pub(crate) mod spawn;
pub(crate) mod subreaper;

#[cfg(test)]
mod tests {
    /// Names that only Linux (or the subreaper and /proc) gives: they belong in `platform/`.
    const LINUX_ONLY: &[&str] = &["prctl", "pidfd_open", "SYS_", "killpg", "getpgid", "getpgrp", "waitpid", "\"/proc/", "format!(\"/proc", "cgroup.procs\")", "libc::write(", "setrlimit", "madvise", "mallopt", "malloc_trim", "getrusage", "/proc/self/smaps", "sched_setscheduler", "SCHED_BATCH"];

    fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                rust_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    #[test]
    fn linux_mechanisms_stay_behind_the_boundary() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let mut found = Vec::new();
        for f in files.iter().filter(|f| !f.starts_with(src.join("platform"))) {
            let text = std::fs::read_to_string(f).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.trim_start();
                if code.starts_with("//") {
                    continue;
                }
                for word in LINUX_ONLY.iter().filter(|w| code.contains(*w)) {
                    found.push(format!("{}:{}: {word}", f.strip_prefix(&src).unwrap().display(), n + 1));
                }
            }
        }
        assert!(found.is_empty(), "Linux-specific mechanisms outside platform/:\n{}", found.join("\n"));
    }
}
