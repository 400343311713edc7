//! CPU and memory of each process's whole group, read from /proc: the sum
//! over every process whose process group is the one corral made for it
//! (processes are group leaders), so a shell's children count too. The
//! dashboard samples at most once a second, and only while the table shows.

use std::collections::HashMap;
use std::time::Instant;

use corral_protocol::ResourceUsage;

pub struct Sampler {
    ticks_per_second: f64,
    page_size: u64,
    /// Per group: CPU ticks so far and when they were read.
    last: HashMap<i32, (u64, Instant)>,
    /// Per group: its members, as the last full scan of /proc found them.
    members: HashMap<i32, Vec<i32>>,
    last_scan: Option<Instant>,
}

/// How often all of /proc is read to find each group's members; in
/// between, only the known members are read (a new child counts from the
/// next scan on).
const RESCAN: std::time::Duration = std::time::Duration::from_secs(10);

impl Default for Sampler {
    fn default() -> Self {
        Self::new()
    }
}

impl Sampler {
    pub fn new() -> Sampler {
        use nix::unistd::{sysconf, SysconfVar};
        let ticks = sysconf(SysconfVar::CLK_TCK).ok().flatten().unwrap_or(100) as f64;
        let page = sysconf(SysconfVar::PAGE_SIZE).ok().flatten().unwrap_or(4096) as u64;
        Sampler { ticks_per_second: ticks, page_size: page, last: HashMap::new(), members: HashMap::new(), last_scan: None }
    }

    /// Figures for the groups led by `pids` (absent: nothing found).
    pub fn sample(&mut self, pids: &[i32]) -> HashMap<i32, ResourceUsage> {
        let now = Instant::now();
        let known = pids.iter().all(|p| self.members.contains_key(p));
        if !known || self.last_scan.is_none_or(|t| now.duration_since(t) >= RESCAN) {
            self.scan(pids);
            self.last_scan = Some(now);
        }
        let mut out = HashMap::new();
        let mut last = HashMap::new();
        for &leader in pids {
            let (mut ticks, mut mem) = (0u64, 0u64);
            for pid in self.members.get(&leader).map_or(&[][..], Vec::as_slice) {
                let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
                let Some((pgrp, t, rss)) = parse_stat(&stat) else { continue };
                // The pid may have been reused since the scan.
                if pgrp == leader || *pid == leader {
                    ticks += t;
                    mem += rss * self.page_size;
                }
            }
            let cpu = match self.last.get(&leader) {
                Some((t0, at)) if ticks >= *t0 => {
                    let secs = now.saturating_duration_since(*at).as_secs_f64();
                    if secs > 0.0 {
                        (ticks - t0) as f64 / self.ticks_per_second / secs * 100.0
                    } else {
                        0.0
                    }
                }
                _ => 0.0,
            };
            if mem > 0 {
                out.insert(leader, ResourceUsage { cpu_percent: cpu, memory_bytes: mem });
                last.insert(leader, (ticks, now));
            }
        }
        self.last = last;
        out
    }

    /// Reads all of /proc: which processes belong to the groups of `pids`.
    fn scan(&mut self, pids: &[i32]) {
        let mut members: HashMap<i32, Vec<i32>> = pids.iter().map(|p| (*p, Vec::new())).collect();
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for entry in dir.flatten() {
                let name = entry.file_name();
                let Some(pid) = name.to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
                let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
                let Some((pgrp, _, _)) = parse_stat(&stat) else { continue };
                let key = if members.contains_key(&pgrp) { pgrp } else { pid };
                if let Some(m) = members.get_mut(&key) {
                    m.push(pid);
                }
            }
        }
        self.members = members;
    }
}

/// (process group, utime + stime, rss pages) from a /proc/PID/stat line.
fn parse_stat(stat: &str) -> Option<(i32, u64, u64)> {
    // The command name (field 2) may hold spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_ascii_whitespace().collect();
    let pgrp = f.get(2)?.parse().ok()?;
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let rss = f.get(21)?.parse().ok()?;
    Some((pgrp, ticks, rss))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stat_lines_with_awkward_names() {
        let line = "42 (a) b)) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 100 1000000 250 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0";
        assert_eq!(parse_stat(line), Some((42, 10, 250)));
    }

    #[test]
    fn measures_this_process() {
        let me = std::process::id() as i32;
        let pgrp = nix::unistd::getpgrp().as_raw();
        let mut s = Sampler::new();
        let got = s.sample(&[pgrp, me]);
        assert!(got.values().any(|r| r.memory_bytes > 0), "{got:?}");
    }
}
