//! The guardian: a small helper process that stops the whole set if corral
//! itself dies without cleaning up (SIGKILL, OOM killer, a crash).
//!
//! Why a helper: nothing inside a SIGKILLed process runs, `PR_SET_PDEATHSIG`
//! fires when the forking *thread* exits and reaches only direct children, and
//! the subreaper role dies with corral. One guardian serves the whole run (not
//! one per process: peers that do that pay megabytes per child). It is corral's
//! small binary installed beside corral (`corral-guard RUN_ID`; corral's own
//! hidden `corral __guard RUN_ID` where it is missing), started before any
//! thread exists, in a process group of its own so a terminal's Ctrl-C does not
//! reach it.
//!
//! corral keeps the write end of a pipe whose read end is the guardian's stdin
//! (close-on-exec, so no child inherits it). It writes `+PGID` / `-PGID` as
//! groups appear and disappear, `h PGID` for the pre_hook's group, `c PATH`
//! for the run's cgroup, `o PID START` for an orphan re-parented to corral
//! (without a cgroup), and `bye` at a normal end. End of file without `bye`
//! means corral died: the guardian SIGKILLs every group it was told about,
//! every process of the run's cgroup, every orphan it was told about that is
//! still the same process (same start time), then every live process whose
//! environment carries this run's `CORRAL_RUN_ID`, repeating until none is
//! left. The pre_hook's group is spared at first: its shell sees end of file
//! on its own control pipe, exits, and its `trap … EXIT` runs; then the hook's
//! group and whatever is left in the cgroup are killed too.
//!
//! Each watches the other. The guardian ignores the stop signals meant for
//! corral or a terminal (SIGINT, SIGTERM, SIGHUP, SIGQUIT: a `kill` of the
//! wrong pid, a `pkill`, a terminal closing must not disarm it) and learns of
//! corral's death from end of file on its pipe. corral watches the guardian
//! through a pidfd (`platform::pidfd`): if it ends anyway (SIGKILL, the OOM
//! killer), corral says so loudly and starts a new one, telling it every
//! group it knows (see `Registry::watch_guardian`).

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, BufRead, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::sys::signal::{signal, SigHandler, Signal};

use crate::env::RUN_ID_VAR;
use crate::platform::cgroup::RunCgroup;
use crate::platform::procfs;
use crate::platform::process_group::{signal_group, signal_pid};

/// The hidden subcommand that runs [`guardian_main`].
pub const GUARD_SUBCOMMAND: &str = "__guard";

/// How long the pre_hook's EXIT trap may run after corral died.
const TRAP_BOUND: Duration = Duration::from_secs(60);

pub struct Guardian {
    child: Child,
    link: File,
    /// How it was started, to start another like it.
    exe: PathBuf,
    run_id: String,
}

impl Guardian {
    /// Starts the guardian. Call before any thread is started (before the
    /// async runtime), so the fork happens in a single-threaded process.
    pub fn spawn(self_exe: &Path, run_id: &str) -> io::Result<Guardian> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        // The small `corral-guard` binary installed beside corral, else corral itself.
        let small = self_exe.with_file_name("corral-guard");
        let mut cmd = if small.is_file() {
            std::process::Command::new(small)
        } else {
            let mut c = std::process::Command::new(self_exe);
            c.arg(GUARD_SUBCOMMAND);
            c
        };
        let child = cmd
            .arg(run_id)
            .stdin(Stdio::from(read))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .env_remove(RUN_ID_VAR)
            .process_group(0)
            .spawn()?;
        Ok(Guardian { child, link: File::from(write), exe: self_exe.to_path_buf(), run_id: run_id.to_string() })
    }

    /// Starts a guardian like this one (to replace it once it has died).
    pub fn respawn(&self) -> io::Result<Guardian> {
        Guardian::spawn(&self.exe, &self.run_id)
    }

    /// Collects the exit status of a guardian that has ended (a description of it).
    pub fn reap(mut self) -> String {
        match self.child.try_wait() {
            Ok(Some(s)) => s.to_string(),
            Ok(None) => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                "unresponsive".to_string()
            }
            Err(e) => e.to_string(),
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn send(&self, line: &str) {
        if let Err(e) = (&self.link).write_all(line.as_bytes()) {
            tracing::warn!("the guardian is gone ({e}); if corral is killed, its processes may survive");
        }
    }

    pub fn watch_group(&self, pgid: i32) {
        self.send(&format!("+{pgid}\n"));
    }
    pub fn unwatch_group(&self, pgid: i32) {
        self.send(&format!("-{pgid}\n"));
    }
    pub fn hook_group(&self, pgid: i32) {
        self.send(&format!("h {pgid}\n"));
    }
    pub fn cgroup(&self, dir: &Path) {
        // A path with a newline cannot be sent on this line protocol (corral names it corral-PID).
        if let Some(dir) = dir.to_str().filter(|d| !d.contains('\n')) {
            self.send(&format!("c {dir}\n"));
        }
    }
    pub fn orphan(&self, pid: i32, start: u64) {
        self.send(&format!("o {pid} {start}\n"));
    }

    /// A normal end: the guardian exits without touching anything.
    pub fn dismiss(mut self) {
        self.send("bye\n");
        drop(self.link);
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The guardian process. Returns its exit status.
pub fn guardian_main(run_id: &str) -> i32 {
    // Stop and terminal signals are for corral; corral decides what happens.
    // Only SIGKILL ends the guardian, and corral notices that and starts another.
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT, Signal::SIGPIPE, Signal::SIGUSR1, Signal::SIGUSR2] {
        unsafe {
            let _ = signal(sig, SigHandler::SigIgn);
        }
    }
    let mut run = Known::default();
    for line in io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let line = line.trim();
        if line == "bye" {
            return 0;
        } else if let Some(g) = line.strip_prefix('+').and_then(|g| g.parse::<i32>().ok()) {
            run.groups.insert(g);
        } else if let Some(g) = line.strip_prefix('-').and_then(|g| g.parse::<i32>().ok()) {
            run.groups.remove(&g);
        } else if let Some(g) = line.strip_prefix("h ").and_then(|g| g.parse::<i32>().ok()) {
            run.hook = Some(g);
        } else if let Some(dir) = line.strip_prefix("c ") {
            run.cgroup = Some(RunCgroup::at(dir));
        } else if let Some((pid, start)) = line.strip_prefix("o ").and_then(|o| o.split_once(' ')) {
            if let (Ok(pid), Ok(start)) = (pid.parse::<i32>(), start.parse::<u64>()) {
                // Keep the list bounded: forget orphans that are gone.
                if run.orphans.len() > 4096 {
                    run.orphans.retain(|&(p, s)| procfs::stat(p).is_some_and(|st| st.start == s));
                }
                run.orphans.push((pid, start));
            }
        }
    }
    let stopped = clean_up(run_id, &run);
    eprintln!("corral-guard: corral ended without stopping its processes; killed {stopped} process(es) of run {run_id}");
    0
}

/// What the guardian was told about the run.
#[derive(Default)]
struct Known {
    groups: BTreeSet<i32>,
    hook: Option<i32>,
    cgroup: Option<RunCgroup>,
    /// Orphans re-parented to corral: pid and start time.
    orphans: Vec<(i32, u64)>,
}

fn clean_up(run_id: &str, run: &Known) -> usize {
    let marker = format!("{RUN_ID_VAR}={run_id}");
    let me = std::process::id() as i32;
    let hook = run.hook;
    for &g in run.groups.iter().filter(|g| Some(**g) != hook) {
        signal_group(g, Signal::SIGKILL);
    }
    let mut stopped = 0;
    for &(pid, start) in &run.orphans {
        // The same process only: a pid reused since then has another start time.
        if let Some(s) = procfs::stat(pid).filter(|s| s.start == start && s.state != 'Z') {
            stopped += 1;
            signal_pid(pid, Signal::SIGKILL);
            if Some(s.pgid) != hook && s.pgid != me && s.pgid > 1 {
                signal_group(s.pgid, Signal::SIGKILL);
            }
        }
    }
    if let Some(cg) = &run.cgroup {
        stopped += kill_cgroup_sparing(cg, hook);
    }
    stopped += kill_marked(&marker, me, hook);
    if let Some(h) = hook {
        let deadline = Instant::now() + TRAP_BOUND;
        while !procfs::live_group_members(h).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        signal_group(h, Signal::SIGKILL);
        stopped += kill_marked(&marker, me, None);
    }
    if let Some(cg) = &run.cgroup {
        // Everything left, the trap's own leftovers included, then the cgroup itself.
        cg.kill();
        let deadline = Instant::now() + Duration::from_secs(5);
        while cg.is_populated() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        cg.remove();
    }
    stopped
}

/// SIGKILLs every process of the cgroup outside the group `spare` (the
/// pre_hook, whose trap must run), until a scan finds none. How many it found.
fn kill_cgroup_sparing(cg: &RunCgroup, spare: Option<i32>) -> usize {
    if spare.is_none() {
        let n = cg.pids().len();
        cg.kill();
        return n;
    }
    let mut total = 0;
    for _ in 0..100 {
        let found: Vec<i32> = cg.pids().into_iter().filter(|&p| procfs::stat(p).is_some_and(|s| s.state != 'Z' && Some(s.pgid) != spare)).collect();
        if found.is_empty() {
            break;
        }
        total += found.len();
        for p in found {
            signal_pid(p, Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    total
}

/// SIGKILLs every live process carrying `marker` (and its group), sparing the
/// group `spare`, until a scan finds none. Returns how many were found.
fn kill_marked(marker: &str, me: i32, spare: Option<i32>) -> usize {
    let mut total = 0;
    for _ in 0..100 {
        let found: Vec<i32> = procfs::pids_with_env(marker)
            .into_iter()
            .filter(|&p| p != me && procfs::stat(p).is_some_and(|s| Some(s.pgid) != spare))
            .collect();
        if found.is_empty() {
            break;
        }
        total += found.len();
        for p in found {
            signal_pid(p, Signal::SIGKILL);
            if let Some(s) = procfs::stat(p) {
                if Some(s.pgid) != spare && s.pgid != me {
                    signal_group(s.pgid, Signal::SIGKILL);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    total
}
