//! The Linux-specific mechanisms, behind one boundary, so a port to another
//! OS knows where to look:
//!
//! - [`procfs`]: what corral reads from /proc (children, process groups,
//!   environments of processes that left their group);
//! - [`fds`]: placing descriptors at chosen numbers between fork and exec;
//! - [`pid_exec`]: executing a program whose environment names its own pid
//!   (`LISTEN_PID`, `WATCHDOG_PID`).
//!
//! Not here yet: the subreaper and process-group signalling live in
//! `registry.rs`, and the guardian's `PR_SET_PDEATHSIG` in `guardian.rs`
//! (both are being reworked for cgroup containment); they reach /proc only
//! through this module.

pub(crate) mod fds;
pub(crate) mod pid_exec;
pub(crate) mod procfs;
