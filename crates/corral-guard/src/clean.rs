//! The clean-up after corral died: the same steps, in the same order, as the
//! module doc of `corral_supervisor::guardian` describes.

use crate::known::Known;
use crate::procfs::{self, Stat};
use crate::sys::{self, Path, SIGKILL};

/// How long the pre_hook's EXIT trap may run after corral died.
const TRAP_BOUND_MS: u64 = 60_000;
/// Scans repeat until one finds nothing, at most this many times.
const SCANS_MAX: usize = 100;

/// Stops everything of the run; how many processes it found to kill.
/// `marker` is `CORRAL_RUN_ID=<run id>`, or `None` when the run id was unusable.
pub fn clean_up(marker: Option<&[u8]>, run: &Known) -> usize {
    let me = sys::getpid();
    let hook = run.hook;
    for &g in run.groups().iter().filter(|&&g| Some(g) != hook && g != me) {
        sys::kill_group(g, SIGKILL);
    }
    let mut stopped = 0;
    for &(pid, start) in run.orphans() {
        // The same process only: a pid reused since then has another start time.
        if let Some(s) = procfs::stat(pid).filter(|s| s.start == start && s.state != b'Z') {
            stopped += 1;
            sys::kill(pid, SIGKILL);
            if Some(s.pgid) != hook && s.pgid != me {
                sys::kill_group(s.pgid, SIGKILL);
            }
        }
    }
    let cgroup = run.cgroup().and_then(Cgroup::at);
    if let Some(cg) = &cgroup {
        stopped += cg.kill_sparing(hook);
    }
    stopped += kill_marked(marker, me, hook);
    if let Some(h) = hook {
        let deadline = sys::now_ms() + TRAP_BOUND_MS;
        while group_has_live_members(h) && sys::now_ms() < deadline {
            sys::sleep_ms(20);
        }
        sys::kill_group(h, SIGKILL);
        stopped += kill_marked(marker, me, None);
    }
    if let Some(cg) = &cgroup {
        // Everything left, the trap's own leftovers included, then the cgroup itself.
        cg.kill();
        let deadline = sys::now_ms() + 5_000;
        while cg.is_populated() && sys::now_ms() < deadline {
            sys::sleep_ms(10);
        }
        sys::rmdir(&cg.dir);
    }
    stopped
}

fn group_has_live_members(pgid: i32) -> bool {
    let mut any = false;
    procfs::for_each_pid(|p| any = any || procfs::stat(p).is_some_and(|s| s.pgid == pgid && s.state != b'Z'));
    any
}

/// SIGKILLs every live process whose environment carries `marker` (and its
/// group), sparing the group `spare`, until a scan finds none. How many it found.
fn kill_marked(marker: Option<&[u8]>, me: i32, spare: Option<i32>) -> usize {
    let Some(marker) = marker else { return 0 };
    let mut total = 0;
    for _ in 0..SCANS_MAX {
        let mut found = 0;
        procfs::for_each_pid(|p| {
            if p == me {
                return;
            }
            let Some(s) = procfs::stat(p).filter(Stat::is_live) else { return };
            if Some(s.pgid) == spare || !procfs::has_env_entry(p, marker) {
                return;
            }
            found += 1;
            sys::kill(p, SIGKILL);
            if s.pgid != me {
                sys::kill_group(s.pgid, SIGKILL);
            }
        });
        if found == 0 {
            break;
        }
        total += found;
        sys::sleep_ms(10);
    }
    total
}

/// The run's cgroup (v2) directory.
struct Cgroup {
    dir: Path<{ crate::line::LINE_MAX + 64 }>,
}

impl Cgroup {
    /// An absolute path only (what corral sends).
    fn at(dir: &[u8]) -> Option<Cgroup> {
        let mut path = Path::new();
        (dir.first() == Some(&b'/') && path.push(dir)).then_some(Cgroup { dir: path })
    }

    /// The path of one of its files.
    fn file(&self, name: &[u8]) -> Path<{ crate::line::LINE_MAX + 64 }> {
        let mut p = Path::new();
        p.push(self.dir.as_bytes());
        p.push(b"/");
        p.push(name);
        p
    }

    /// Calls `each` with every pid in `cgroup.procs`; how many there were.
    fn for_each_pid(&self, mut each: impl FnMut(i32)) -> usize {
        let Some(fd) = sys::open_read(&self.file(b"cgroup.procs")) else { return 0 };
        let mut reader = crate::line::LineReader::new();
        let mut n = 0;
        while let Some(line) = reader.next(|buf| sys::read(fd.raw(), buf)) {
            if let Some(pid) = crate::text::parse_pid(crate::text::trim(line)) {
                n += 1;
                each(pid);
            }
        }
        n
    }

    /// SIGKILLs every process in it: `cgroup.kill` (Linux 5.14+), else
    /// freeze, kill each member, thaw.
    fn kill(&self) {
        if sys::write_file(&self.file(b"cgroup.kill"), b"1") {
            return;
        }
        let frozen = sys::write_file(&self.file(b"cgroup.freeze"), b"1");
        self.for_each_pid(|p| sys::kill(p, SIGKILL));
        if frozen {
            sys::write_file(&self.file(b"cgroup.freeze"), b"0");
        }
    }

    /// SIGKILLs every process outside the group `spare` (the pre_hook, whose
    /// trap must run), until a scan finds none. How many it found.
    fn kill_sparing(&self, spare: Option<i32>) -> usize {
        if spare.is_none() {
            let n = self.for_each_pid(|_| {});
            self.kill();
            return n;
        }
        let mut total = 0;
        for _ in 0..SCANS_MAX {
            let mut found = 0;
            self.for_each_pid(|p| {
                if procfs::stat(p).is_some_and(|s| s.state != b'Z' && Some(s.pgid) != spare) {
                    found += 1;
                    sys::kill(p, SIGKILL);
                }
            });
            if found == 0 {
                break;
            }
            total += found;
            sys::sleep_ms(10);
        }
        total
    }

    /// Whether any process is left (`populated 0` once all, zombies included, are gone).
    fn is_populated(&self) -> bool {
        let mut buf = [0u8; 512];
        match sys::read_file(&self.file(b"cgroup.events"), &mut buf) {
            Some(n) => !buf[..n].split(|&b| b == b'\n').any(|l| l == b"populated 0"),
            None => self.for_each_pid(|_| {}) > 0,
        }
    }
}
