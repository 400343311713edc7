//! The Linux-specific mechanisms, behind one boundary, so a port to another
//! OS knows where to look:
//!
//! - [`procfs`]: what corral reads from /proc (children, process groups,
//!   environments of processes that left their group);
//! - [`fds`]: placing descriptors at chosen numbers between fork and exec;
//! - [`pid_exec`]: executing a program whose environment names its own pid
//!   (`LISTEN_PID`, `WATCHDOG_PID`).
//!
//! - [`cgroup`]: a cgroup v2 per run, where one can be created: containment
//!   that no double-fork or `setsid` escapes;
//! - [`rlimit`]: corral's own descriptor limit raised, the original restored
//!   for the processes it starts;
//! - [`pty`]: pseudo-terminals for `is_tty` processes.
//!
//! Not here yet: the subreaper and process-group signalling live in
//! `registry.rs`, and the guardian's `PR_SET_PDEATHSIG` in `guardian.rs`; they
//! reach /proc only through this module.

pub(crate) mod fds;
pub(crate) mod pid_exec;
pub(crate) mod procfs;
pub(crate) mod pty;
pub(crate) mod cgroup;
pub(crate) mod rlimit;
