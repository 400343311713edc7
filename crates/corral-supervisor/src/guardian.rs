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
//! groups appear and disappear, `h PGID` for the pre_hook's group, and `bye`
//! at a normal end. End of file without `bye` means corral died: the guardian
//! SIGKILLs every group it was told about, then every live process whose
//! environment carries this run's `CORRAL_RUN_ID` (that finds double-forked
//! daemons that left their group), repeating until none is left. The pre_hook
//! shell is spared at first: it sees end of file on its own control pipe,
//! exits, and its `trap … EXIT` runs; then its group is killed too.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, BufRead, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::sys::signal::{signal, SigHandler, Signal};

use crate::env::RUN_ID_VAR;
use crate::platform::procfs;
use crate::registry::{signal_group, signal_pid};

/// The hidden subcommand that runs [`guardian_main`].
pub const GUARD_SUBCOMMAND: &str = "__guard";

/// How long the pre_hook's EXIT trap may run after corral died.
const TRAP_BOUND: Duration = Duration::from_secs(60);

pub struct Guardian {
    child: Child,
    link: File,
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
        Ok(Guardian { child, link: File::from(write) })
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
    // Terminal signals are for corral; corral decides what happens.
    for sig in [Signal::SIGINT, Signal::SIGHUP, Signal::SIGQUIT, Signal::SIGPIPE] {
        unsafe {
            let _ = signal(sig, SigHandler::SigIgn);
        }
    }
    let mut groups = BTreeSet::new();
    let mut hook = None;
    for line in io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let line = line.trim();
        if line == "bye" {
            return 0;
        } else if let Some(g) = line.strip_prefix('+').and_then(|g| g.parse::<i32>().ok()) {
            groups.insert(g);
        } else if let Some(g) = line.strip_prefix('-').and_then(|g| g.parse::<i32>().ok()) {
            groups.remove(&g);
        } else if let Some(g) = line.strip_prefix("h ").and_then(|g| g.parse::<i32>().ok()) {
            hook = Some(g);
        }
    }
    let stopped = clean_up(run_id, &groups, hook);
    eprintln!("corral-guard: corral ended without stopping its processes; killed {stopped} process(es) of run {run_id}");
    0
}

fn clean_up(run_id: &str, groups: &BTreeSet<i32>, hook: Option<i32>) -> usize {
    let marker = format!("{RUN_ID_VAR}={run_id}");
    let me = std::process::id() as i32;
    for &g in groups.iter().filter(|g| Some(**g) != hook) {
        signal_group(g, Signal::SIGKILL);
    }
    let mut stopped = kill_marked(&marker, me, hook);
    if let Some(h) = hook {
        let deadline = Instant::now() + TRAP_BOUND;
        while !procfs::live_group_members(h).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        signal_group(h, Signal::SIGKILL);
        stopped += kill_marked(&marker, me, None);
    }
    stopped
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
