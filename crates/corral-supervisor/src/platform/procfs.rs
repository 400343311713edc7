//! The few facts about other processes corral reads from /proc.

use std::fs;

/// Direct children of this process (all its threads), from
/// /proc/self/task/*/children; falls back to scanning /proc when that file is
/// missing (kernels without CONFIG_PROC_CHILDREN).
pub(crate) fn children_of_self() -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut out = Vec::new();
    let Ok(tasks) = fs::read_dir("/proc/self/task") else { return scan_children(me) };
    for task in tasks.flatten() {
        match fs::read_to_string(task.path().join("children")) {
            Ok(s) => out.extend(s.split_whitespace().filter_map(|p| p.parse::<i32>().ok())),
            Err(_) => return scan_children(me),
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn scan_children(parent: i32) -> Vec<i32> {
    all_pids().into_iter().filter(|&p| stat(p).is_some_and(|s| s.ppid == parent)).collect()
}

pub(crate) fn all_pids() -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else { return Vec::new() };
    dir.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect()
}

/// Fields of /proc/PID/stat that corral needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    pub(crate) state: char,
    pub(crate) ppid: i32,
    pub(crate) pgid: i32,
    /// When it started, in clock ticks after boot: with the pid, a process's identity.
    pub(crate) start: u64,
    /// CPU time used (user + system), in clock ticks.
    pub(crate) cpu_ticks: u64,
    /// Resident memory, in pages.
    pub(crate) rss_pages: u64,
}

pub(crate) fn stat(pid: i32) -> Option<Stat> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: parse after the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let mut f = rest.split_whitespace();
    let state = f.next()?.chars().next()?;
    let ppid = f.next()?.parse().ok()?;
    let pgid = f.next()?.parse().ok()?;
    // Fields 6 to 13 (session … cmajflt), then utime and stime (14, 15).
    let utime: u64 = f.nth(8)?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    // Fields 16 to 21 (cutime … itrealvalue), then starttime (22), vsize (23), rss (24).
    let start = f.nth(6)?.parse().ok()?;
    let rss_pages = f.nth(1)?.parse::<i64>().ok()?.max(0) as u64;
    Some(Stat { state, ppid, pgid, start, cpu_ticks: utime + stime, rss_pages })
}

/// Clock ticks per second (the unit of [`Stat::cpu_ticks`] and [`Stat::start`]).
pub(crate) fn ticks_per_second() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok().flatten().filter(|t| *t > 0).map_or(100, |t| t as u64)
}

/// Bytes per page (the unit of [`Stat::rss_pages`]).
pub(crate) fn page_size() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE).ok().flatten().filter(|t| *t > 0).map_or(4096, |t| t as u64)
}

/// Seconds since boot (/proc/uptime), the clock [`Stat::start`] counts on.
pub(crate) fn uptime_seconds() -> Option<f64> {
    fs::read_to_string("/proc/uptime").ok()?.split_whitespace().next()?.parse().ok()
}

/// Every live process's stat, in one pass over /proc.
pub(crate) fn all_stats() -> Vec<(i32, Stat)> {
    all_pids().into_iter().filter_map(|p| stat(p).map(|s| (p, s))).filter(|(_, s)| s.state != 'Z' && s.state != 'X').collect()
}

/// A process that exists and is not a zombie.
pub(crate) fn is_live(pid: i32) -> bool {
    stat(pid).is_some_and(|s| s.state != 'Z' && s.state != 'X')
}

/// Live processes whose environment contains every one of `entries` (`NAME=value`).
pub(crate) fn pids_with_env_all(entries: &[String]) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|&p| {
            fs::read(format!("/proc/{p}/environ"))
                .map(|env| entries.iter().all(|want| env.split(|b| *b == 0).any(|e| e == want.as_bytes())))
                .unwrap_or(false)
        })
        .filter(|&p| is_live(p))
        .collect()
}

/// The value of variable `name` in the environment of `pid`, if it can be read
/// and has one (a process that rewrote its environment area for its title has none).
pub(crate) fn env_var(pid: i32, name: &str) -> Option<String> {
    let env = fs::read(format!("/proc/{pid}/environ")).ok()?;
    let prefix = format!("{name}=");
    env.split(|b| *b == 0).find_map(|e| e.strip_prefix(prefix.as_bytes()).map(|v| String::from_utf8_lossy(v).into_owned()))
}

/// Live members of process group `pgid`.
pub(crate) fn live_group_members(pgid: i32) -> Vec<i32> {
    all_pids().into_iter().filter(|&p| stat(p).is_some_and(|s| s.pgid == pgid && s.state != 'Z')).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_stat_and_children() {
        let me = std::process::id() as i32;
        let s = stat(me).unwrap();
        assert!(s.state == 'R' || s.state == 'S');
        assert!(s.start > 0 && stat(1).is_none_or(|init| init.start <= s.start));
        assert!(s.rss_pages > 0, "a test binary has resident pages");
        let up = uptime_seconds().unwrap();
        assert!((s.start / ticks_per_second()) as f64 <= up + 1.0, "started before now");
        let mut child = std::process::Command::new("sleep").arg("5").spawn().unwrap();
        assert!(children_of_self().contains(&(child.id() as i32)));
        assert!(is_live(child.id() as i32));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!is_live(child.id() as i32));
    }
}
