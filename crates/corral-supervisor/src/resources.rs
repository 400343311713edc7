//! CPU and memory of each running process's whole group, for `ps`.
//!
//! Figures cost nothing until someone asks: there is no timer. A `ps`
//! request samples (off the runtime: one pass over /proc), at most once a
//! second; a request within a second of the last sample gets that sample's
//! figures. CPU is percent of one core since the previous sample (since the
//! process started, for the first); memory is resident bytes. Both are
//! summed over the process's group, and the leader itself should it have
//! left its group.
//!
//! Where the cpu and memory controllers are on the cgroup v2 hierarchy and a
//! process has a cgroup of its own, its cgroup's `cpu.stat` and
//! `memory.current` would be exact; runs have one cgroup for the whole set
//! today (and on our hybrid machines those controllers are on v1), so the
//! figures come from /proc.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use corral_protocol::{ProcessInfo, ResourceUsage};

use crate::platform::procfs::{self, Stat};

/// The shortest interval between two samples.
pub(crate) const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// A group's totals at one sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Totals {
    cpu_ticks: u64,
    rss_pages: u64,
}

#[derive(Debug, Clone, Copy)]
struct Reading {
    /// The leader's start time: a pid reused by another process starts over.
    start: u64,
    totals: Totals,
}

/// What the last sample saw, to measure CPU since then.
#[derive(Default)]
pub(crate) struct Sampler {
    last: Option<(Instant, HashMap<i32, Reading>)>,
    figures: HashMap<i32, ResourceUsage>,
    /// The leaders the last sample was asked for.
    asked: Vec<i32>,
}

impl Sampler {
    /// Figures for the groups led by `leaders`; samples /proc unless the last
    /// sample is less than [`MIN_INTERVAL`] old and covered them all.
    pub(crate) fn figures(&mut self, leaders: &[i32], now: Instant) -> HashMap<i32, ResourceUsage> {
        let fresh = self.last.as_ref().is_some_and(|(t, _)| now.saturating_duration_since(*t) < MIN_INTERVAL);
        if !(fresh && leaders.iter().all(|l| self.asked.contains(l))) {
            self.sample(leaders, now);
        }
        leaders.iter().filter_map(|l| self.figures.get(l).map(|f| (*l, *f))).collect()
    }

    fn sample(&mut self, leaders: &[i32], now: Instant) {
        let stats = procfs::all_stats();
        let hz = procfs::ticks_per_second();
        let page = procfs::page_size();
        let uptime = procfs::uptime_seconds();
        let totals = group_totals(leaders, &stats);
        let mut readings = HashMap::new();
        self.figures.clear();
        for (&leader, &(start, t)) in &totals {
            let prev = self.last.as_ref().and_then(|(at, r)| r.get(&leader).filter(|p| p.start == start).map(|p| (*at, p.totals)));
            let cpu_percent = match prev {
                Some((at, before)) => cpu_percent(before.cpu_ticks, t.cpu_ticks, hz, now.saturating_duration_since(at).as_secs_f64()),
                // The first sample of this process: since it started.
                None => uptime.map_or(0.0, |up| cpu_percent(0, t.cpu_ticks, hz, up - start as f64 / hz as f64)),
            };
            self.figures.insert(leader, ResourceUsage { cpu_percent, memory_bytes: t.rss_pages * page });
            readings.insert(leader, Reading { start, totals: t });
        }
        self.last = Some((now, readings));
        self.asked = leaders.to_vec();
    }
}

/// Fills `resources` of every process in `list` that has a pid.
pub(crate) fn apply(list: &mut [ProcessInfo], figures: &HashMap<i32, ResourceUsage>) {
    for p in list {
        p.resources = p.pid.and_then(|pid| figures.get(&pid).copied());
    }
}

/// The live leaders' groups summed: members of the group each leader created
/// (its pgid was its pid), plus the leader itself if it left that group.
/// Returns each live leader's start time and totals.
fn group_totals(leaders: &[i32], stats: &[(i32, Stat)]) -> HashMap<i32, (u64, Totals)> {
    let mut out: HashMap<i32, (u64, Totals)> = HashMap::new();
    for (pid, s) in stats {
        if leaders.contains(pid) {
            out.entry(*pid).or_default().0 = s.start;
        }
    }
    for (pid, s) in stats {
        let group = if out.contains_key(&s.pgid) { Some(s.pgid) } else { None };
        // A leader that left its group still counts for itself.
        let own = (out.contains_key(pid) && s.pgid != *pid).then_some(*pid);
        for g in group.into_iter().chain(own) {
            let t = &mut out.get_mut(&g).expect("a known leader").1;
            t.cpu_ticks += s.cpu_ticks;
            t.rss_pages += s.rss_pages;
        }
    }
    out
}

/// Percent of one core used between two readings `seconds` apart.
fn cpu_percent(before: u64, after: u64, hz: u64, seconds: f64) -> f64 {
    if seconds <= 0.0 || hz == 0 {
        return 0.0;
    }
    let used = after.saturating_sub(before) as f64 / hz as f64;
    // One decimal is all a table shows.
    (used / seconds * 1000.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(pgid: i32, start: u64, cpu: u64, rss: u64) -> Stat {
        Stat { state: 'S', ppid: 1, pgid, start, cpu_ticks: cpu, rss_pages: rss }
    }

    #[test]
    fn a_group_is_summed_with_a_leader_that_left_it_and_nothing_else() {
        let stats = vec![
            (10, st(10, 5, 100, 10)),  // leader 10
            (11, st(10, 6, 50, 20)),   // its child
            (20, st(99, 7, 30, 1)),    // leader 20, which left its group for 99
            (21, st(20, 8, 5, 2)),     // still in group 20
            (99, st(99, 1, 1000, 1000)), // a stranger's group
        ];
        let t = group_totals(&[10, 20, 30], &stats);
        assert_eq!(t[&10], (5, Totals { cpu_ticks: 150, rss_pages: 30 }));
        assert_eq!(t[&20], (7, Totals { cpu_ticks: 35, rss_pages: 3 }));
        assert!(!t.contains_key(&30), "a leader that is gone has no figures");
    }

    #[test]
    fn cpu_is_percent_of_one_core_between_readings() {
        assert_eq!(cpu_percent(100, 200, 100, 1.0), 100.0);
        assert_eq!(cpu_percent(100, 150, 100, 2.0), 25.0);
        assert_eq!(cpu_percent(0, 300, 100, 1.5), 200.0, "two cores busy");
        assert_eq!(cpu_percent(200, 100, 100, 1.0), 0.0, "a member that left takes its time along");
        assert_eq!(cpu_percent(0, 100, 100, 0.0), 0.0);
    }

    #[test]
    fn samples_at_most_once_a_second() {
        let me = std::process::id() as i32;
        let mut s = Sampler::default();
        let t0 = Instant::now();
        let first = s.figures(&[me], t0);
        assert!(first[&me].memory_bytes > 0);
        let at = s.last.as_ref().unwrap().0;
        s.figures(&[me], t0 + Duration::from_millis(500));
        assert_eq!(s.last.as_ref().unwrap().0, at, "within a second: the last sample's figures");
        s.figures(&[me], t0 + Duration::from_millis(1500));
        assert_eq!(s.last.as_ref().unwrap().0, t0 + Duration::from_millis(1500), "a second later: a new sample");
    }
}
