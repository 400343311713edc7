//! Linux-specific mechanisms behind one boundary.

pub mod cgroup;
pub mod rlimit;
