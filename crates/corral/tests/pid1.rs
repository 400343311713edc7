//! corral as PID 1 (the container case): run as the first process of a new PID
//! namespace (`unshare --pid --fork --mount-proc`), where the kernel gives PID 1
//! no default signal actions and hands it every orphan of the namespace.
//!
//! The set has a process that keeps leaving orphans that exit (zombies, unless
//! PID 1 reaps them) and one that ignores SIGTERM. A stop signal from outside the
//! namespace (what `docker stop` sends) must stop everything in order and end
//! with the status docs/exit-status.md gives for a stop (0); no zombie may pile up;
//! without a terminal the output is plain lines.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

const CORRAL: &str = env!("CARGO_BIN_EXE_corral");
const HANG_GUARD: Duration = Duration::from_secs(60);

const CONFIG: &str = r#"{
  "processes": {
    "orphans": { "command": "while :; do (exec -a orphan sleep 0.2 &); sleep 0.02; done" },
    "stubborn": { "command": "trap '' TERM; echo ignoring TERM; while :; do sleep 0.2; done", "shutdown": { "timeout_seconds": 2 } },
    "api": { "command": "echo api up; exec sleep 1000", "depends_on": { "stubborn": { "condition": "process_started" } } }
  }
}"#;

/// The pids of `pid`'s children (every thread's), from outside the namespace.
fn children(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        out.extend(text.split_whitespace().filter_map(|p| p.parse::<i32>().ok()));
    }
    out
}

fn state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

fn wait_until(bound: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < bound {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

struct Pid1 {
    unshare: Child,
    corral: i32,
    dir: tempfile::TempDir,
}

fn start() -> Pid1 {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("set.json"), CONFIG).unwrap();
    let out = std::fs::File::create(dir.path().join("stdout")).unwrap();
    let err = std::fs::File::create(dir.path().join("stderr")).unwrap();
    let unshare = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(CORRAL)
        .args(["up", "-f", "set.json"])
        .current_dir(dir.path())
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("unshare (util-linux) runs");
    let upid = unshare.id() as i32;
    let mut corral = 0;
    assert!(
        wait_until(HANG_GUARD, || {
            corral = children(upid).first().copied().unwrap_or(0);
            corral != 0 && std::fs::read_to_string(dir.path().join("stdout")).unwrap_or_default().contains("api up")
        }),
        "corral did not start as PID 1 of a new namespace (unshare needs root): {}",
        std::fs::read_to_string(dir.path().join("stderr")).unwrap_or_default()
    );
    let nspid = std::fs::read_to_string(format!("/proc/{corral}/status")).unwrap();
    let line = nspid.lines().find(|l| l.starts_with("NSpid:")).unwrap().to_string();
    assert!(line.trim_end().ends_with("\t1"), "corral is not PID 1 of its namespace: {line}");
    Pid1 { unshare, corral, dir }
}

impl Pid1 {
    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap()
    }

    /// Sends `sig` from outside and returns the exit status (unshare passes corral's on).
    fn stop_with(mut self, sig: Signal) -> (i32, String, String) {
        kill(Pid::from_raw(self.corral), sig).unwrap();
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.unshare.try_wait().unwrap() {
                break s;
            }
            assert!(start.elapsed() < HANG_GUARD, "corral as PID 1 did not stop on {sig}:\n{}", self.read("stderr"));
            std::thread::sleep(Duration::from_millis(50));
        };
        (status.code().unwrap_or(-1), self.read("stdout"), self.read("stderr"))
    }
}

fn zombies_of(pid: i32) -> usize {
    children(pid).into_iter().filter(|c| state(*c) == Some('Z')).count()
}

/// Live orphans (`orphan`, a `sleep` whose parent subshell has exited) re-parented to `pid`.
fn orphans_of(pid: i32) -> usize {
    children(pid)
        .into_iter()
        .filter(|c| state(*c) != Some('Z') && std::fs::read_to_string(format!("/proc/{c}/cmdline")).is_ok_and(|l| l.starts_with("orphan\0")))
        .count()
}

#[test]
fn as_pid_1_corral_reaps_every_orphan_and_stops_on_sigterm_in_order() {
    let run = start();
    // For three seconds the set leaves an orphan every 20 ms or so, each living
    // 200 ms: they are handed to corral (PID 1), which must reap them as they end.
    let (mut most, mut adopted) = (0, 0);
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        most = most.max(zombies_of(run.corral));
        adopted = adopted.max(orphans_of(run.corral));
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, stdout, stderr) = run.stop_with(Signal::SIGTERM);
    assert!(adopted >= 2, "the orphans never reached corral (at most {adopted} seen at once)");
    assert!(most <= 3, "{most} zombies piled up under corral as PID 1 (while up to {adopted} orphans lived)");
    assert_eq!(code, 0, "a stop by SIGTERM exits 0 (docs/exit-status.md):\n{stderr}");
    // In order: api (which depends on stubborn) before stubborn; stubborn needed SIGKILL.
    let api = stderr.find("api: stopping").expect("api stopped");
    let stubborn = stderr.find("stubborn: stopping").expect("stubborn stopped");
    assert!(api < stubborn, "api must stop before what it depends on:\n{stderr}");
    assert!(stderr.contains("stubborn: still running 2s after it was asked to stop; sending SIGKILL"), "{stderr}");
    assert!(stderr.contains("all processes ended; exit status 0"), "{stderr}");
    // Plain lines without a terminal.
    assert!(!stdout.contains('\u{1b}') && !stderr.contains('\u{1b}'), "escape sequences without a terminal");
    assert!(stdout.contains("stubborn | ignoring TERM\n"), "{stdout}");
}

#[test]
fn as_pid_1_corral_stops_on_sigint_too() {
    let run = start();
    let (code, _, stderr) = run.stop_with(Signal::SIGINT);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("all processes ended; exit status 0"), "{stderr}");
}
