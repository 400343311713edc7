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

use std::collections::{BTreeSet, HashSet};
use std::io;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, killpg, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use crate::guardian::Guardian;
use crate::platform::procfs;

pub struct Registry {
    /// Pids whose exit status someone (a tokio `Child`, the guardian handle) waits for.
    owned: Mutex<HashSet<i32>>,
    /// Process groups corral created and has not seen empty yet.
    groups: Mutex<BTreeSet<i32>>,
    guardian: Mutex<Option<Guardian>>,
}

/// Makes this process the reaper of its orphaned descendants.
pub fn become_subreaper() -> io::Result<()> {
    nix::sys::prctl::set_child_subreaper(true).map_err(io::Error::from)
}

/// Sends `sig` to process group `pgid`; a group that no longer exists is not an error.
pub fn signal_group(pgid: i32, sig: Signal) {
    match killpg(Pid::from_raw(pgid), sig) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(e) => tracing::debug!("killpg({pgid}, {sig}): {e}"),
    }
}

pub fn signal_pid(pid: i32, sig: Signal) {
    match kill(Pid::from_raw(pid), sig) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(e) => tracing::debug!("kill({pid}, {sig}): {e}"),
    }
}

/// Whether any process (zombies included, until reaped) is in group `pgid`.
pub fn group_exists(pgid: i32) -> bool {
    !matches!(kill(Pid::from_raw(-pgid), None), Err(Errno::ESRCH))
}

impl Registry {
    pub fn new(guardian: Option<Guardian>) -> Registry {
        let owned = guardian.as_ref().map(|g| g.pid()).into_iter().collect();
        Registry { owned: Mutex::new(owned), groups: Mutex::default(), guardian: Mutex::new(guardian) }
    }

    /// Spawns `cmd` in a new process group of its own. The command is consumed
    /// so that the parent's copies of the child's pipe ends close right away.
    pub fn spawn(&self, mut cmd: Command) -> io::Result<(Child, i32)> {
        cmd.process_group(0).kill_on_drop(false);
        // Hold the lock across fork so the orphan reaper can never see this pid
        // before it is marked as owned.
        let mut owned = self.owned.lock().unwrap();
        let child = cmd.spawn()?;
        drop(cmd);
        let pid = child.id().expect("a just-spawned child has a pid") as i32;
        owned.insert(pid);
        drop(owned);
        self.groups.lock().unwrap().insert(pid);
        if let Some(g) = &*self.guardian.lock().unwrap() {
            g.watch_group(pid);
        }
        Ok((child, pid))
    }

    /// Tells the guardian that `pgid` is the pre_hook's group, whose EXIT trap
    /// should be allowed to run if corral dies.
    pub fn note_hook_group(&self, pgid: i32) {
        if let Some(g) = &*self.guardian.lock().unwrap() {
            g.hook_group(pgid);
        }
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
            if let Ok(status) = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
                if status != nix::sys::wait::WaitStatus::StillAlive {
                    tracing::debug!("reaped orphan {pid}: {status:?}");
                    reaped += 1;
                }
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
        let own_group = nix::unistd::getpgrp().as_raw();
        let targets = |reg: &Registry| -> (Vec<i32>, Vec<i32>) {
            reg.reap_orphans();
            let groups: Vec<i32> = reg.groups.lock().unwrap().iter().copied().filter(|g| group_exists(*g)).collect();
            let orphans: Vec<i32> = reg.orphans().into_iter().filter(|p| procfs::is_live(*p)).collect();
            (groups, orphans)
        };
        let hit = |sig: Signal, groups: &[i32], orphans: &[i32]| {
            groups.iter().for_each(|g| signal_group(*g, sig));
            for &p in orphans {
                signal_pid(p, sig);
                // An orphan that left our group may lead a group (or session) of its own.
                if let Ok(pg) = nix::unistd::getpgid(Some(Pid::from_raw(p))) {
                    if pg.as_raw() != own_group {
                        signal_group(pg.as_raw(), sig);
                    }
                }
            }
        };
        let (groups, orphans) = targets(self);
        if groups.is_empty() && orphans.is_empty() {
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
            }
        }
    }

    /// Kills every known group at once (the second Ctrl-C).
    pub fn kill_all_groups(&self) {
        for g in self.groups.lock().unwrap().iter() {
            signal_group(*g, Signal::SIGKILL);
        }
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
