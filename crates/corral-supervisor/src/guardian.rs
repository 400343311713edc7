//! The guardian: a small helper process that stops the whole set if corral
//! itself dies without cleaning up (SIGKILL, OOM killer, a crash).
//!
//! Why a helper: nothing inside a SIGKILLed process runs, `PR_SET_PDEATHSIG`
//! fires when the forking *thread* exits and reaches only direct children, and
//! the subreaper role dies with corral. One guardian serves the whole run (not
//! one per process: peers that do that pay megabytes per child). It is corral's
//! small binary installed beside corral (`corral-guard RUN_ID`), started
//! before any thread exists, in a process group of its own so a terminal's
//! Ctrl-C does not reach it. It is written without std or libc (the
//! `corral-guard` crate: raw system calls, fixed tables, a few pages of
//! memory) and built by crates/corral/build.rs; this module is corral's side
//! of the pipe. There is one implementation: corral also carries the same
//! binary inside it ([`embed`], 15 KB), and where no `corral-guard` is
//! installed beside corral (`cargo install`, a copied binary) it runs that
//! copy from a sealed memory file.
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
//! corral or a terminal (SIGINT, SIGTERM, SIGHUP, SIGQUIT, and SIGPIPE,
//! SIGUSR1, SIGUSR2: a `kill` of the wrong pid, a `pkill`, a terminal closing
//! must not disarm it) and learns of
//! corral's death from end of file on its pipe. corral watches the guardian
//! through a pidfd (`platform::pidfd`): if it ends anyway (SIGKILL, the OOM
//! killer), corral says so loudly and starts a new one, telling it every
//! group it knows (see `Registry::watch_guardian`).

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;

use crate::env::RUN_ID_VAR;

/// The guardian's executable, looked for beside corral's.
pub const GUARD_EXE: &str = "corral-guard";

/// The guardian built into corral (set once by the binary, see [`embed`]).
static EMBEDDED: std::sync::OnceLock<&'static [u8]> = std::sync::OnceLock::new();

/// Gives corral's built-in copy of `corral-guard`, run from memory when no
/// file of that name is installed beside corral.
pub fn embed(program: &'static [u8]) {
    let _ = EMBEDDED.set(program);
}

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
        let beside = self_exe.with_file_name(GUARD_EXE);
        // Beside corral (a file the page cache shares between runs), else the built-in copy.
        let in_memory = match (beside.is_file(), EMBEDDED.get()) {
            (true, _) => None,
            (false, Some(program)) => Some(crate::platform::memfd::sealed(c"corral-guard", program)?),
            (false, None) => return Err(io::Error::new(io::ErrorKind::NotFound, format!("{} not found: it is built and installed beside corral", beside.display()))),
        };
        let exe = match &in_memory {
            Some(fd) => crate::platform::memfd::exec_path(fd),
            None => beside,
        };
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        let child = std::process::Command::new(&exe)
            .arg0(GUARD_EXE)
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
