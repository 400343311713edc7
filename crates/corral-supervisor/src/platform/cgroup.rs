//! Containment through a cgroup v2 subtree, where one is writable.
//!
//! A process group is a weak fence: a daemon can `setsid` out of it, fork
//! twice and scrub its environment, and nothing then ties it to the run. A
//! cgroup is a strong one: every descendant of a process in it stays in it
//! (only a privileged process can move itself out), and `cgroup.kill` kills
//! all of them at once, however fast they fork.
//!
//! So when the cgroup v2 hierarchy is mounted and corral may create a cgroup
//! inside its own (root, or a delegated user slice), each run gets one,
//! `corral-<pid>`, and every process corral starts is created inside it
//! (`clone3` with `CLONE_INTO_CGROUP`, see [`super::spawn`]; where that is
//! missing, it joins through `cgroup.procs` before it execs). corral itself and its guardian stay
//! outside, so killing the cgroup never kills them. The v2 hierarchy is found
//! in `/proc/self/mountinfo` (on hybrid machines it is at
//! `/sys/fs/cgroup/unified`, beside the v1 controllers), corral's place in it
//! in `/proc/self/cgroup` (the `0::` line).
//!
//! Where no v2 subtree is writable, [`RunCgroup::create`] says why and the run
//! falls back to process groups, the subreaper and the guardian.

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// The open descriptors children are started into the cgroup with.
#[derive(Debug)]
pub(crate) struct CgroupFds {
    dir: OwnedFd,
    procs: OwnedFd,
}

impl CgroupFds {
    /// (directory, cgroup.procs), for [`super::spawn::Command::spawn`].
    pub(crate) fn raw(&self) -> (std::os::fd::RawFd, std::os::fd::RawFd) {
        use std::os::fd::AsRawFd;
        (self.dir.as_raw_fd(), self.procs.as_raw_fd())
    }
}

/// The cgroup of one run.
#[derive(Debug)]
pub struct RunCgroup {
    dir: PathBuf,
}

/// Where the cgroup v2 hierarchy is mounted, from mountinfo text.
pub fn v2_mount(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        // "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS... - FSTYPE SOURCE SUPER"
        let (left, right) = line.split_once(" - ")?;
        if right.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        left.split_whitespace().nth(4).map(|p| PathBuf::from(unescape(p)))
    })
}

/// mountinfo escapes spaces and the like as `\040` (octal).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// corral's own cgroup v2 path (relative to the hierarchy's root), from /proc/self/cgroup text.
pub fn own_path(proc_cgroup: &str) -> Option<String> {
    proc_cgroup.lines().find_map(|l| l.strip_prefix("0::")).map(|p| p.trim_start_matches('/').to_string())
}

impl RunCgroup {
    /// Creates the run's cgroup `name` inside corral's own v2 cgroup. The
    /// error says why containment falls back to process groups.
    pub fn create(name: &str) -> Result<RunCgroup, String> {
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
        let mount = v2_mount(&mountinfo).ok_or("no cgroup v2 hierarchy is mounted")?;
        let own = fs::read_to_string("/proc/self/cgroup").map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
        let own = own_path(&own).ok_or("corral is in no cgroup v2 (no 0:: line in /proc/self/cgroup)")?;
        let dir = mount.join(own).join(name);
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
        }
        let cg = RunCgroup { dir };
        if !cg.dir.join("cgroup.procs").exists() {
            cg.remove();
            return Err(format!("{} is not a cgroup v2 directory", cg.dir.display()));
        }
        Ok(cg)
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The cgroup's directory (for `clone3`'s `CLONE_INTO_CGROUP`) and its
    /// `cgroup.procs` (for a child to write `0` to before it execs, where
    /// `clone3` is missing), opened once for every child.
    pub(crate) fn join_fds(&self) -> io::Result<CgroupFds> {
        let dir = fs::File::open(&self.dir)?.into();
        let procs = fs::OpenOptions::new().write(true).open(self.dir.join("cgroup.procs"))?.into();
        Ok(CgroupFds { dir, procs })
    }

    /// Whether process `pid` is in this cgroup: `None` when that cannot be
    /// told (it has exited, or its v2 membership is unreadable).
    pub fn has_member(&self, pid: i32) -> Option<bool> {
        let own = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        let v2 = own.lines().find(|l| l.starts_with("0::"))?;
        let name = self.dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        Some(v2.trim_end().ends_with(&format!("/{name}")))
    }

    /// Moves process `pid` into the cgroup (processes are started inside; tests use this).
    #[cfg(test)]
    pub fn add(&self, pid: i32) -> io::Result<()> {
        fs::write(self.dir.join("cgroup.procs"), pid.to_string())
    }

    /// The processes in the cgroup now (zombies not yet reaped included).
    pub fn pids(&self) -> Vec<i32> {
        fs::read_to_string(self.dir.join("cgroup.procs")).unwrap_or_default().lines().filter_map(|l| l.trim().parse().ok()).collect()
    }

    /// Whether any live process is in it (`cgroup.events` says `populated 0` once
    /// every process, zombies included, has gone).
    pub fn is_populated(&self) -> bool {
        match fs::read_to_string(self.dir.join("cgroup.events")) {
            Ok(events) => !events.lines().any(|l| l == "populated 0"),
            Err(_) => !self.pids().is_empty(),
        }
    }

    /// SIGKILLs every process in it at once (`cgroup.kill`, Linux 5.14+);
    /// on older kernels, freezes it, SIGKILLs each member, and thaws it.
    pub fn kill(&self) {
        if fs::write(self.dir.join("cgroup.kill"), "1").is_ok() {
            return;
        }
        let frozen = fs::write(self.dir.join("cgroup.freeze"), "1").is_ok();
        for pid in self.pids() {
            // SAFETY: kill(2) with a pid read from cgroup.procs; a frozen member cannot fork meanwhile.
            unsafe { nix::libc::kill(pid, nix::libc::SIGKILL) };
        }
        if frozen {
            let _ = fs::write(self.dir.join("cgroup.freeze"), "0");
        }
    }

    /// Removes the cgroup (it must be empty). Errors are ignored: a cgroup
    /// left behind holds no process and no memory.
    pub fn remove(&self) {
        if let Err(e) = fs::remove_dir(&self.dir) {
            tracing::debug!("cannot remove {}: {e}", self.dir.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_v2_mount_beside_v1_controllers() {
        let hybrid = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
            35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n\
            41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw\n";
        assert_eq!(v2_mount(hybrid), Some(PathBuf::from("/sys/fs/cgroup/unified")));
        let pure = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(v2_mount(pure), Some(PathBuf::from("/sys/fs/cgroup")));
        assert_eq!(v2_mount("35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"), None);
        assert_eq!(v2_mount("41 31 0:38 / /mnt/with\\040space rw - cgroup2 cgroup2 rw\n"), Some(PathBuf::from("/mnt/with space")));
    }

    #[test]
    fn reads_the_own_v2_path() {
        assert_eq!(own_path("4:memory:/x\n0::/user.slice/user-1000.slice/session-2.scope\n").as_deref(), Some("user.slice/user-1000.slice/session-2.scope"));
        assert_eq!(own_path("0::/\n").as_deref(), Some(""));
        assert_eq!(own_path("4:memory:/x\n"), None);
    }

    #[test]
    fn a_run_cgroup_holds_what_joins_it_and_kills_it_all() {
        let Ok(cg) = RunCgroup::create(&format!("corral-unit-{}", std::process::id())) else {
            eprintln!("SKIPPED: no writable cgroup v2 here");
            return;
        };
        let mut child = std::process::Command::new("sleep").arg("300").spawn().unwrap();
        cg.add(child.id() as i32).unwrap();
        assert_eq!(cg.pids(), [child.id() as i32]);
        assert!(cg.is_populated());
        cg.kill();
        child.wait().unwrap();
        assert!(!cg.is_populated());
        cg.remove();
        assert!(!cg.path().exists());
    }
}
