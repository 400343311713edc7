//! What the guardian was told about the run, in fixed-size tables: it never
//! allocates, and its memory is bounded whatever corral sends.
//!
//! - Groups: room for every possible process group id at once (the kernel's
//!   PID_MAX_LIMIT, 2^22 on 64-bit), so the table is never full. It lives in
//!   .bss: only the pages in use are resident (4 KB per 1,024 live groups).
//! - Orphans (pid and start time): up to [`ORPHANS_MAX`]. When the table is
//!   full, those that are no longer the same live process are forgotten; if it
//!   is still full, a new orphan is not recorded (and [`Known::orphans_dropped`]
//!   says so): the run's cgroup and the `CORRAL_RUN_ID` scan still reach it
//!   unless it also left both.
//! - The cgroup path: up to 4 KB (a longer line is skipped by the reader).

use crate::line::LINE_MAX;

/// The kernel's PID_MAX_LIMIT on 64-bit targets: no pid or group id exceeds it.
pub const GROUPS_MAX: usize = 1 << 22;
pub const ORPHANS_MAX: usize = 1 << 16;

pub struct Known {
    groups: [i32; GROUPS_MAX],
    n_groups: usize,
    pub hook: Option<i32>,
    cgroup: [u8; LINE_MAX],
    cgroup_len: usize,
    orphans: [(i32, u64); ORPHANS_MAX],
    n_orphans: usize,
    pub orphans_dropped: usize,
}

impl Known {
    pub const fn new() -> Known {
        Known {
            groups: [0; GROUPS_MAX],
            n_groups: 0,
            hook: None,
            cgroup: [0; LINE_MAX],
            cgroup_len: 0,
            orphans: [(0, 0); ORPHANS_MAX],
            n_orphans: 0,
            orphans_dropped: 0,
        }
    }

    pub fn groups(&self) -> &[i32] {
        &self.groups[..self.n_groups]
    }

    /// Adds a group (once: adding one already there changes nothing).
    pub fn watch(&mut self, pgid: i32) {
        if self.groups().contains(&pgid) || self.n_groups == GROUPS_MAX {
            return;
        }
        self.groups[self.n_groups] = pgid;
        self.n_groups += 1;
    }

    pub fn unwatch(&mut self, pgid: i32) {
        if let Some(i) = self.groups().iter().position(|&g| g == pgid) {
            self.n_groups -= 1;
            self.groups[i] = self.groups[self.n_groups];
        }
    }

    pub fn set_cgroup(&mut self, dir: &[u8]) {
        let n = dir.len().min(self.cgroup.len());
        self.cgroup[..n].copy_from_slice(&dir[..n]);
        self.cgroup_len = n;
    }

    pub fn cgroup(&self) -> Option<&[u8]> {
        (self.cgroup_len > 0).then(|| &self.cgroup[..self.cgroup_len])
    }

    pub fn orphans(&self) -> &[(i32, u64)] {
        &self.orphans[..self.n_orphans]
    }

    /// Records an orphan; when the table is full, first forgets those for
    /// which `still_there(pid, start)` is false.
    pub fn add_orphan(&mut self, pid: i32, start: u64, mut still_there: impl FnMut(i32, u64) -> bool) {
        if self.n_orphans == ORPHANS_MAX {
            let mut kept = 0;
            for i in 0..self.n_orphans {
                let (p, s) = self.orphans[i];
                if still_there(p, s) {
                    self.orphans[kept] = (p, s);
                    kept += 1;
                }
            }
            self.n_orphans = kept;
        }
        if self.n_orphans == ORPHANS_MAX {
            self.orphans_dropped += 1;
            return;
        }
        self.orphans[self.n_orphans] = (pid, start);
        self.n_orphans += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Box<Known> {
        // SAFETY: all-zero bytes are `Known::new()` (zero counts, `None`).
        let k: Box<Known> = unsafe { Box::new_zeroed().assume_init() };
        assert!(k.groups().is_empty() && k.hook.is_none() && k.cgroup().is_none() && k.orphans().is_empty());
        k
    }

    #[test]
    fn groups_come_and_go_like_a_set() {
        let mut k = known();
        for g in [10, 11, 12, 11] {
            k.watch(g);
        }
        assert_eq!(k.groups(), [10, 11, 12]);
        k.unwatch(10);
        k.unwatch(99);
        let mut left = k.groups().to_vec();
        left.sort();
        assert_eq!(left, [11, 12]);
        k.unwatch(11);
        k.unwatch(12);
        assert!(k.groups().is_empty());
    }

    #[test]
    fn a_full_orphan_table_forgets_the_gone_then_drops_the_new() {
        let mut k = known();
        for p in 0..ORPHANS_MAX as i32 {
            k.add_orphan(p, 1, |_, _| unreachable!("not full yet"));
        }
        // Full: the even pids have gone.
        k.add_orphan(-1, 7, |p, _| p % 2 == 1);
        assert_eq!(k.orphans().len(), ORPHANS_MAX / 2 + 1);
        assert_eq!(k.orphans().last(), Some(&(-1, 7)));
        assert!(k.orphans().iter().all(|&(p, _)| p % 2 == 1 || p == -1));
        // Full of live ones: the new one is counted as dropped.
        while k.orphans().len() < ORPHANS_MAX {
            k.add_orphan(1, 1, |_, _| true);
        }
        k.add_orphan(5, 5, |_, _| true);
        assert_eq!((k.orphans().len(), k.orphans_dropped), (ORPHANS_MAX, 1));
        assert!(!k.orphans().contains(&(5, 5)));
    }

    #[test]
    fn keeps_the_hook_and_the_cgroup() {
        let mut k = known();
        k.hook = Some(42);
        k.set_cgroup(b"/sys/fs/cgroup/corral-1");
        assert_eq!(k.cgroup(), Some(&b"/sys/fs/cgroup/corral-1"[..]));
    }
}
