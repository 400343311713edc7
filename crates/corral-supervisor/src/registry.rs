//! Every process corral starts goes through [`Registry::spawn`], so one place
//! knows every pid corral owns and every process group it created.
//!
//! corral makes itself a child subreaper: a grandchild whose parent dies (a
//! daemon that double-forks, a process that `setsid`s away from its group) is
//! re-parented to corral instead of init. That is what lets the final
//! [`Registry::sweep`] find and stop every descendant. It also means corral
//! must reap those orphans, and only those: a `waitpid(-1)` would steal the exit
//! statuses tokio waits for, so [`Registry::reap_orphans`] waits only for
//! children whose pids corral does not own.
//!
//! Where a cgroup v2 subtree is writable, the run also gets a cgroup of its
//! own ([`crate::platform::cgroup`]) that every process joins before it execs:
//! the sweep and the guardian then reach daemons that left every group and
//! scrubbed their environment. Elsewhere (the fallback), orphans re-parented to
//! corral are reported to the guardian (pid and start time) as corral sees them.
//!
//! The registry decides; the mechanisms (the subreaper, signalling process
//! groups, the cgroup, /proc) live behind [`crate::platform`].

use std::collections::{BTreeSet, HashSet};
use std::io;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use crate::platform::spawn::{Child, Command};

use crate::guardian::Guardian;
use crate::platform::cgroup::{CgroupFds, RunCgroup};
use crate::platform::procfs;
use crate::platform::subreaper;

pub struct Registry {
    /// Pids whose exit status someone (a tokio `Child`, the guardian handle) waits for.
    owned: Mutex<HashSet<i32>>,
    /// Process groups corral created and has not seen empty yet.
    groups: Mutex<BTreeSet<i32>>,
    guardian: Mutex<Option<Guardian>>,
    /// The pre_hook's group, to tell a replacement guardian.
    hook: Mutex<Option<i32>>,
    /// The run's cgroup, and its directory and `cgroup.procs` held open for children to start in.
    cgroup: Option<(RunCgroup, CgroupFds)>,
    /// Orphans already reported to the guardian (fallback mode).
    reported: Mutex<HashSet<i32>>,
    /// corral's descriptor limit before it raised it, for every child.
    nofile: Option<crate::platform::rlimit::Original>,
    /// Whether the first child's cgroup was checked, and whether it had not joined.
    join_checked: std::sync::atomic::AtomicBool,
    join_failed: std::sync::atomic::AtomicBool,
}

/// How a run keeps hold of its processes (shown with `-v`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Containment {
    /// Every process is in this cgroup v2 directory.
    Cgroup(std::path::PathBuf),
    /// Process groups, the subreaper and the guardian; why no cgroup.
    Groups(String),
}

/// How often corral looks for new orphans to tell the guardian of (fallback mode).
const ORPHAN_SCAN: Duration = Duration::from_secs(1);

// The process-group mechanisms, for the modules that reach them through the registry.
pub(crate) use crate::platform::process_group::{group_exists, signal_group, signal_leader_and_group, signal_pid};
use crate::platform::process_group::{group_of, left_its_group, own_group};

impl Registry {
    pub fn new(guardian: Option<Guardian>) -> Registry {
        let owned = guardian.as_ref().map(|g| g.pid()).into_iter().collect();
        let created = if std::env::var_os("CORRAL_CGROUP").is_some_and(|v| v == "off") {
            Err("CORRAL_CGROUP=off".to_string())
        } else {
            RunCgroup::create(&format!("corral-{}", std::process::id()))
        };
        let cgroup = match created {
            Ok(cg) => match cg.join_fds() {
                Ok(fds) => Ok((cg, fds)),
                Err(e) => {
                    cg.remove();
                    Err(format!("cannot open its cgroup.procs: {e}"))
                }
            },
            Err(why) => Err(why),
        };
        let cgroup = match cgroup {
            Ok(c) => {
                tracing::debug!("containment: every process joins the cgroup {}", c.0.path().display());
                if let Some(g) = &guardian {
                    g.cgroup(c.0.path());
                }
                Some(c)
            }
            Err(why) => {
                tracing::debug!("containment: process groups, subreaper and guardian ({why})");
                None
            }
        };
        Registry {
            owned: Mutex::new(owned),
            groups: Mutex::default(),
            guardian: Mutex::new(guardian),
            hook: Mutex::default(),
            cgroup,
            reported: Mutex::default(),
            nofile: crate::platform::rlimit::raise_nofile(),
            join_checked: Default::default(),
            join_failed: Default::default(),
        }
    }

    /// Which containment this run has.
    pub fn containment(&self) -> Containment {
        match &self.cgroup {
            Some((cg, _)) if self.in_cgroup_mode() => Containment::Cgroup(cg.path().to_path_buf()),
            Some(_) => Containment::Groups("processes do not join the run's cgroup".into()),
            None => Containment::Groups("no writable cgroup v2 subtree".into()),
        }
    }

    /// Spawns `cmd` in a new process group of its own. The command is consumed
    /// so that the parent's copies of the child's pipe ends close right away.
    pub(crate) fn spawn(&self, mut cmd: Command) -> io::Result<(Child, i32)> {
        cmd.new_process_group();
        let cgroup = self.cgroup.as_ref().map(|(_, fds)| fds.raw());
        if let Some(n) = self.nofile {
            // SAFETY: runs in the child between fork and exec and only calls
            // setrlimit(2), which is async-signal-safe: the child gets corral's
            // original descriptor limit back (see `platform::rlimit`).
            unsafe {
                cmd.pre_exec(move || {
                    n.restore();
                    Ok(())
                });
            }
        }
        // Hold the lock across fork so the orphan reaper can never see this pid
        // before it is marked as owned.
        let mut owned = self.owned.lock().unwrap();
        let child = cmd.spawn(cgroup)?;
        let pid = child.id();
        owned.insert(pid);
        drop(owned);
        self.groups.lock().unwrap().insert(pid);
        if let Some(g) = &*self.guardian.lock().unwrap() {
            g.watch_group(pid);
        }
        self.check_joined(pid);
        Ok((child, pid))
    }

    /// After the first spawn in cgroup mode: did the child really join (the
    /// write in `pre_exec` cannot report)? If not, the run falls back to
    /// reporting orphans to the guardian, and says so.
    fn check_joined(&self, pid: i32) {
        let Some((cg, _)) = &self.cgroup else { return };
        if self.join_checked.swap(true, std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        // A child that already exited cannot be checked; only a readable, different cgroup is a failure.
        if cg.has_member(pid) == Some(false) {
            tracing::warn!("processes do not join the cgroup {}; containment falls back to process groups, subreaper and guardian", cg.path().display());
            self.join_failed.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn in_cgroup_mode(&self) -> bool {
        self.cgroup.is_some() && !self.join_failed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Tells the guardian that `pgid` is the pre_hook's group, whose EXIT trap
    /// should be allowed to run if corral dies.
    pub fn note_hook_group(&self, pgid: i32) {
        *self.hook.lock().unwrap() = Some(pgid);
        if let Some(g) = &*self.guardian.lock().unwrap() {
            g.hook_group(pgid);
        }
    }

    /// Whether `pgid` is a process group corral created and has not seen empty
    /// (a process's, a probe's, a shutdown command's).
    pub(crate) fn created_group(&self, pgid: i32) -> bool {
        self.groups.lock().unwrap().contains(&pgid)
    }

    /// Whether corral waits for `pid`'s exit status itself (a process it started, the guardian).
    pub(crate) fn owns(&self, pid: i32) -> bool {
        self.owned.lock().unwrap().contains(&pid)
    }

    /// Call once the exit status of `pid` has been collected.
    pub fn release(&self, pid: i32) {
        self.owned.lock().unwrap().remove(&pid);
    }

    /// Reaps exited children that corral does not own (re-parented orphans), and
    /// forgets process groups that have become empty. Returns how many were reaped.
    pub fn reap_orphans(&self) -> usize {
        let owned = self.owned.lock().unwrap();
        let mut reaped = 0;
        for pid in procfs::children_of_self() {
            if owned.contains(&pid) {
                continue;
            }
            if let Some(status) = subreaper::reap_if_exited(pid) {
                tracing::debug!("reaped orphan {pid}: {status}");
                reaped += 1;
            }
        }
        drop(owned);
        self.prune_groups();
        reaped
    }

    fn prune_groups(&self) {
        let mut groups = self.groups.lock().unwrap();
        let owned = self.owned.lock().unwrap();
        let gone: Vec<i32> = groups.iter().copied().filter(|g| !owned.contains(g) && !group_exists(*g)).collect();
        for g in gone {
            groups.remove(&g);
            if let Some(guard) = &*self.guardian.lock().unwrap() {
                guard.unwatch_group(g);
            }
        }
    }

    /// Children that are not owned: orphans re-parented to corral.
    fn orphans(&self) -> Vec<i32> {
        let owned = self.owned.lock().unwrap();
        procfs::children_of_self().into_iter().filter(|p| !owned.contains(p)).collect()
    }

    /// Stops everything corral started that is still alive: the remains of
    /// process groups (a one-shot's background job, a grandchild that ignored
    /// the stop signal) and orphans that left their group. SIGTERM first, then
    /// SIGKILL after `grace`; gives up after `grace + hard` and says what is left.
    pub async fn sweep(&self, grace: Duration, hard: Duration) {
        let own_group = own_group();
        let targets = |reg: &Registry| -> (Vec<i32>, Vec<i32>) {
            reg.reap_orphans();
            let groups: Vec<i32> = reg.groups.lock().unwrap().iter().copied().filter(|g| group_exists(*g) || reg.escaped_leader(*g)).collect();
            let mut orphans: Vec<i32> = reg.orphans().into_iter().filter(|p| procfs::is_live(*p)).collect();
            // Members of the run's cgroup: whatever left every group and was re-parented past corral.
            if let Some((cg, _)) = &reg.cgroup {
                let members: Vec<i32> = cg.pids().into_iter().filter(|p| procfs::is_live(*p) && !orphans.contains(p)).collect();
                orphans.extend(members);
            }
            (groups, orphans)
        };
        let hit = |sig: Signal, groups: &[i32], orphans: &[i32]| {
            groups.iter().for_each(|g| self.signal_group_and_leader(*g, sig));
            for &p in orphans {
                signal_pid(p, sig);
                // An orphan that left our group may lead a group (or session) of its own.
                if let Some(pg) = group_of(p) {
                    if pg != own_group {
                        signal_group(pg, sig);
                    }
                }
            }
        };
        let (groups, orphans) = targets(self);
        if groups.is_empty() && orphans.is_empty() {
            self.remove_cgroup();
            return;
        }
        tracing::info!("stopping {} leftover process group(s) and {} orphan(s)", groups.len(), orphans.len());
        hit(Signal::SIGTERM, &groups, &orphans);
        let start = Instant::now();
        let mut killing = false;
        loop {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let (groups, orphans) = targets(self);
            if groups.is_empty() && orphans.is_empty() {
                self.remove_cgroup();
                return;
            }
            if start.elapsed() >= grace + hard {
                tracing::error!("processes survive SIGKILL (groups {groups:?}, pids {orphans:?}); giving up on them");
                return;
            }
            if killing || start.elapsed() >= grace {
                if !killing {
                    tracing::warn!("leftover processes ignored SIGTERM for {grace:?}; sending SIGKILL");
                }
                killing = true;
                hit(Signal::SIGKILL, &groups, &orphans);
                if let Some((cg, _)) = &self.cgroup {
                    cg.kill();
                }
            }
        }
    }

    /// Kills every known group at once, every leader that left its group,
    /// and everything in the run's cgroup (the second Ctrl-C).
    pub fn kill_all_groups(&self) {
        let groups: Vec<i32> = self.groups.lock().unwrap().iter().copied().collect();
        for g in groups {
            self.signal_group_and_leader(g, Signal::SIGKILL);
        }
        if let Some((cg, _)) = &self.cgroup {
            cg.kill();
        }
    }

    /// Removes the run's cgroup once nothing is left in it.
    fn remove_cgroup(&self) {
        if let Some((cg, _)) = &self.cgroup {
            if !cg.is_populated() {
                cg.remove();
            }
        }
    }

    /// Fallback mode: tells the guardian about orphans re-parented to corral
    /// that it has not heard of (pid and start time, so it can never hit
    /// another process that got the pid later). In cgroup mode the cgroup holds them.
    pub fn report_orphans(&self) {
        if self.in_cgroup_mode() {
            return;
        }
        let orphans = self.orphans();
        let mut reported = self.reported.lock().unwrap();
        reported.retain(|p| orphans.contains(p));
        let guardian = self.guardian.lock().unwrap();
        let Some(g) = &*guardian else { return };
        for pid in orphans {
            if reported.contains(&pid) {
                continue;
            }
            if let Some(stat) = procfs::stat(pid).filter(|s| s.state != 'Z') {
                tracing::debug!("told the guardian of orphan {pid}");
                g.orphan(pid, stat.start);
                reported.insert(pid);
            }
        }
    }

    /// Whether the leader of group `g` is a live child not yet reaped that left its group.
    fn escaped_leader(&self, g: i32) -> bool {
        self.owned.lock().unwrap().contains(&g) && procfs::is_live(g) && left_its_group(g)
    }

    /// [`signal_leader_and_group`] where the leader is still owned (not reaped,
    /// so its pid is still its own); the group alone otherwise.
    fn signal_group_and_leader(&self, g: i32, sig: Signal) {
        if self.owned.lock().unwrap().contains(&g) {
            signal_leader_and_group(g, sig);
        } else {
            signal_group(g, sig);
        }
    }

    /// Watches the guardian (through a pidfd) for the whole run: if it ends
    /// before it is dismissed, says so and starts a new one that is told every
    /// group; if that fails, warns that a `kill -9` of corral would now leak.
    pub fn watch_guardian(self: &std::sync::Arc<Registry>) {
        let weak = std::sync::Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(pid) = weak.upgrade().and_then(|r| r.guardian.lock().unwrap().as_ref().map(Guardian::pid)) else { return };
                let exit = crate::platform::pidfd::wait_exit(pid);
                tokio::pin!(exit);
                let mut tick = tokio::time::interval(ORPHAN_SCAN);
                let ended = loop {
                    tokio::select! {
                        r = &mut exit => break r,
                        _ = tick.tick() => match weak.upgrade() {
                            Some(r) => r.report_orphans(),
                            None => return,
                        },
                    }
                };
                if let Err(e) = ended {
                    tracing::warn!("cannot watch the guardian (pid {pid}): {e}; if it dies, corral will not notice");
                    return;
                }
                match weak.upgrade() {
                    Some(registry) if registry.replace_guardian(pid) => continue,
                    _ => return,
                }
            }
        });
    }

    /// Replaces the guardian `dead` if it is still the current one (not
    /// dismissed). Whether a new one now runs.
    fn replace_guardian(&self, dead: i32) -> bool {
        let Some(old) = self.guardian.lock().unwrap().take_if(|g| g.pid() == dead) else { return false };
        let new = old.respawn();
        let status = old.reap();
        self.release(dead);
        let new = match new {
            Ok(g) => g,
            Err(e) => {
                tracing::error!("the guardian (pid {dead}) ended ({status}) and no new one can start ({e}): if corral is killed now, its processes will survive it");
                return false;
            }
        };
        tracing::error!("the guardian (pid {dead}) ended unexpectedly ({status}); started a new one (pid {})", new.pid());
        self.owned.lock().unwrap().insert(new.pid());
        for g in self.groups.lock().unwrap().iter() {
            new.watch_group(*g);
        }
        if let Some(h) = *self.hook.lock().unwrap() {
            new.hook_group(h);
        }
        if let Some((cg, _)) = &self.cgroup {
            new.cgroup(cg.path());
        }
        self.reported.lock().unwrap().clear();
        *self.guardian.lock().unwrap() = Some(new);
        true
    }

    /// Tells the guardian the run ended normally, and waits for it to exit.
    pub fn dismiss_guardian(&self) {
        if let Some(g) = self.guardian.lock().unwrap().take() {
            let pid = g.pid();
            g.dismiss();
            self.release(pid);
        }
    }
}

impl Drop for Registry {
    /// A run that ends early (an error before the sweep) leaves no empty cgroup behind.
    fn drop(&mut self) {
        self.remove_cgroup();
    }
}
