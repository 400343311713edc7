//! What the guardian reads in /proc: the processes there, their state,
//! group and start time (`/proc/PID/stat`), and whether their environment
//! carries the run's marker (`/proc/PID/environ`, read in pieces).

use crate::sys::{self, Path};
use crate::text::{parse_pid, parse_u64};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub state: u8,
    pub pgid: i32,
    /// Field 22, starttime: with the pid, names one process for good.
    pub start: u64,
}

impl Stat {
    pub fn is_live(&self) -> bool {
        self.state != b'Z' && self.state != b'X'
    }
}

/// Parses the text of `/proc/PID/stat`. The command name may hold spaces
/// and parentheses: the fields are read after its last `)`.
pub fn parse_stat(text: &[u8]) -> Option<Stat> {
    let close = text.iter().rposition(|&b| b == b')')?;
    // Fields 3 (state) onwards, separated by single spaces.
    let mut fields = text[close + 1..].split(|&b| b == b' ').filter(|f| !f.is_empty());
    let state = *fields.next()?.first()?;
    let pgid = parse_pid(fields.nth(1)?)?;
    let start = parse_u64(fields.nth(16)?)?;
    Some(Stat { state, pgid, start })
}

fn proc_path(pid: i32, file: &[u8]) -> Path<48> {
    let mut p = Path::new();
    p.push(b"/proc/");
    p.push_num(pid as u64);
    p.push(b"/");
    p.push(file);
    p
}

pub fn stat(pid: i32) -> Option<Stat> {
    let mut buf = [0u8; 1024];
    let n = sys::read_file(&proc_path(pid, b"stat"), &mut buf)?;
    parse_stat(&buf[..n])
}

/// Calls `each` with every pid in /proc.
pub fn for_each_pid(mut each: impl FnMut(i32)) {
    let mut proc = Path::<8>::new();
    proc.push(b"/proc");
    // (O_DIRECTORY is not needed to read a directory, and its value differs between architectures.)
    let Some(dir) = sys::open_read(&proc) else { return };
    let mut buf = [0u8; 4096];
    loop {
        let n = sys::getdents(&dir, &mut buf);
        if n <= 0 {
            return;
        }
        let mut at = 0;
        // struct linux_dirent64: ino (8), off (8), reclen (2), type (1), name (NUL-terminated).
        while at + 19 < n as usize {
            let reclen = u16::from_ne_bytes([buf[at + 16], buf[at + 17]]) as usize;
            if reclen < 20 || at + reclen > n as usize {
                return;
            }
            let name = &buf[at + 19..at + reclen];
            let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
            if let Some(pid) = parse_pid(name) {
                each(pid);
            }
            at += reclen;
        }
    }
}

/// Looks for one exact `NAME=value` entry in a NUL-separated environment fed
/// to it in pieces of any size.
pub struct EntryMatcher<'a> {
    entry: &'a [u8],
    /// How much of `entry` the current entry has matched so far; `None` once it differs.
    matched: Option<usize>,
    found: bool,
}

impl<'a> EntryMatcher<'a> {
    pub fn new(entry: &'a [u8]) -> Self {
        EntryMatcher { entry, matched: Some(0), found: false }
    }

    pub fn feed(&mut self, piece: &[u8]) {
        for &b in piece {
            if b == 0 {
                self.found |= self.matched == Some(self.entry.len());
                self.matched = Some(0);
            } else {
                self.matched = match self.matched {
                    Some(k) if k < self.entry.len() && self.entry[k] == b => Some(k + 1),
                    _ => None,
                };
            }
        }
    }

    /// Whether the entry was there (the last one may lack its NUL).
    pub fn found(&self) -> bool {
        self.found || self.matched == Some(self.entry.len())
    }
}

/// Whether the environment of `pid` holds `entry` exactly.
pub fn has_env_entry(pid: i32, entry: &[u8]) -> bool {
    let Some(fd) = sys::open_read(&proc_path(pid, b"environ")) else { return false };
    let mut m = EntryMatcher::new(entry);
    let mut buf = [0u8; 4096];
    loop {
        let n = sys::read(fd.raw(), &mut buf);
        if n <= 0 {
            return m.found();
        }
        m.feed(&buf[..n as usize]);
        if m.found {
            return true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_stat_line_whose_name_has_parentheses_and_spaces() {
        let line = b"4242 (a) b (c) S 1 4240 4240 0 -1 4194560 120 0 0 0 3 4 0 0 20 0 1 0 987654 12345678 200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        assert_eq!(parse_stat(line), Some(Stat { state: b'S', pgid: 4240, start: 987654 }));
        assert_eq!(parse_stat(b"1 (x) Z 0"), None);
        assert_eq!(parse_stat(b"garbage"), None);
    }

    #[test]
    fn reads_its_own_stat_like_std_does() {
        let me = std::process::id() as i32;
        let s = stat(me).expect("own stat");
        let text = std::fs::read_to_string(format!("/proc/{me}/stat")).unwrap();
        let fields: Vec<&str> = text.rsplit_once(')').unwrap().1.split_whitespace().collect();
        assert_eq!(s.pgid.to_string(), fields[2]);
        assert_eq!(s.start.to_string(), fields[19]);
        assert!(s.is_live());
        let mut seen = Vec::new();
        for_each_pid(|p| seen.push(p));
        assert!(seen.contains(&me) && seen.contains(&1), "{seen:?}");
    }

    #[test]
    fn matches_a_whole_entry_across_pieces() {
        let env = b"A=1\0CORRAL_RUN_ID=12-34\0B=2\0";
        for piece in [1, 3, 5, 100] {
            let mut m = EntryMatcher::new(b"CORRAL_RUN_ID=12-34");
            env.chunks(piece).for_each(|c| m.feed(c));
            assert!(m.found(), "piece {piece}");
        }
        for other in [&b"CORRAL_RUN_ID=12-345\0"[..], b"XCORRAL_RUN_ID=12-34\0", b"CORRAL_RUN_ID=12-3\0", b""] {
            let mut m = EntryMatcher::new(b"CORRAL_RUN_ID=12-34");
            m.feed(other);
            assert!(!m.found(), "{:?}", String::from_utf8_lossy(other));
        }
        let mut last = EntryMatcher::new(b"K=v");
        last.feed(b"A=1\0K=v");
        assert!(last.found(), "a last entry without its NUL");
    }

    #[test]
    fn finds_the_marker_in_a_real_child_environment() {
        let mut child = std::process::Command::new("sleep").arg("30").env("CORRAL_GUARD_TEST", "x".repeat(10_000)).env("CORRAL_RUN_ID", "t-1").spawn().unwrap();
        let pid = child.id() as i32;
        // spawn() may return while the kernel is still setting up the new program's environment.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(has_env_entry(pid, b"CORRAL_RUN_ID=t-1"));
        assert!(!has_env_entry(pid, b"CORRAL_RUN_ID=t-2"));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!has_env_entry(pid, b"CORRAL_RUN_ID=t-1"), "gone");
    }
}
