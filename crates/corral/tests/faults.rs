//! Fault scenarios: what must hold when processes (or corral's surroundings)
//! misbehave. Resource figures are read from /proc; bounds are leak guards,
//! generous on purpose (this is not a benchmark).

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::json;
use support::{wait_until, Project, HANG_GUARD};

fn status_kb(pid: i32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines().find_map(|l| l.strip_prefix(field)).map(|v| v.trim().trim_end_matches(" kB").trim().parse().unwrap_or(0)).unwrap_or(0)
}

fn fd_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn a_crash_loop_of_1000_restarts_does_not_grow_fds_or_memory() {
    let p = Project::new();
    p.config(json!({"processes": {
        "crash": {"command": "exit 1", "availability": {"restart": "on_failure", "max_restarts": 1000, "backoff_seconds": 0.001}}
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    let pid = run.pid();
    let restarts = || run.stderr().matches("crash: restarting in").count();
    assert!(wait_until(HANG_GUARD, || restarts() >= 100), "{}", run.stderr());
    // A sample may catch a restart mid-spawn (its pipes in flight): take the floor of several.
    let floor = || {
        (0..20)
            .map(|_| {
                std::thread::sleep(Duration::from_millis(2));
                (fd_count(pid), status_kb(pid, "VmRSS:"))
            })
            .fold((usize::MAX, u64::MAX), |(f, r), (f2, r2)| (f.min(f2), r.min(r2)))
    };
    let (fds_early, rss_early) = floor();
    assert!(wait_until(Duration::from_secs(120), || restarts() >= 900), "only {} restarts", restarts());
    let (fds_late, rss_late) = floor();
    let f = run.wait();
    assert_eq!(f.status, 1, "gave up after 1000 restarts");
    assert!(f.stderr.contains("gave up after 1000 restart(s)"), "{}", &f.stderr[f.stderr.len().saturating_sub(500)..]);
    // A leak of one descriptor per restart would add hundreds.
    assert!(fds_late <= fds_early + 3, "fds grew from {fds_early} to {fds_late}");
    assert!(rss_late < rss_early + 3 * 1024, "memory grew from {rss_early} kB to {rss_late} kB");
}

#[test]
fn a_process_that_closes_its_stdout_early_is_still_supervised() {
    let p = Project::new();
    p.config(json!({"processes": {
        "quiet": {"command": "echo before; exec 1>&- 2>&-; sleep 0.5; echo after > after.txt"}
    }}));
    let f = p.up(&[]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert_eq!(f.lines_of("quiet"), ["before"]);
    assert_eq!(p.read("after.txt"), "after\n", "it ran to its end after closing its output");
    assert!(f.stderr.contains("quiet: exited with status 0"));
}

#[test]
fn a_100_mb_line_without_newline_reaches_the_log_file_in_bounded_memory() {
    let p = Project::new();
    p.config(json!({"processes": {
        "huge": {"command": "head -c 100000000 /dev/zero | tr '\\0' x", "log_location": "huge.log"}
    }}));
    let mut child = Command::new(support::CORRAL).args(["up", "-f", "dev.json"]).current_dir(p.path()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let pid = child.id() as i32;
    let mut peak = 0;
    let done = wait_until(HANG_GUARD, || {
        peak = peak.max(status_kb(pid, "VmHWM:"));
        matches!(child.try_wait(), Ok(Some(_)))
    });
    assert!(done, "corral did not finish");
    let log = std::fs::read(p.file("huge.log")).unwrap();
    let xs = log.iter().filter(|b| **b == b'x').count();
    assert_eq!(xs, 100_000_000, "every byte reached the log file");
    assert!(log.iter().all(|b| *b == b'x' || *b == b'\n'));
    assert!(peak < 64 * 1024, "corral's peak memory was {peak} kB");
}

#[test]
fn corral_s_stdout_closed_keeps_supervising_and_writing_log_files() {
    let p = Project::new();
    p.config(json!({"processes": {
        "talker": {"command": "i=0; while true; do i=$((i+1)); echo line $i; sleep 0.01; done", "log_location": "talker.log"}
    }}));
    let mut child = Command::new(support::CORRAL)
        .args(["up", "-f", "dev.json"])
        .current_dir(p.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // nobody reads corral's stdout any more: EPIPE
    let size = || std::fs::metadata(p.file("talker.log")).map(|m| m.len()).unwrap_or(0);
    assert!(wait_until(HANG_GUARD, || size() > 0));
    let first = size();
    assert!(wait_until(HANG_GUARD, || size() > first + 1000), "the log file keeps growing");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stdout is no longer writable"), "{err}");
    p.assert_nothing_left();
}

#[test]
fn a_thousand_processes_in_one_set_start_and_stop() {
    let p = Project::new();
    let processes: serde_json::Map<String, serde_json::Value> = (0..1000).map(|i| (format!("p{i:04}"), json!({"command": "exec sleep 300"}))).collect();
    p.config(json!({"processes": processes}));
    let run = p.start(&["up", "-f", "dev.json", "-q"]);
    assert!(wait_until(Duration::from_secs(120), || p.survivors().len() >= 1000), "started {}", p.survivors().len());
    let ps = p.corral(&["ps", "-f", "dev.json", "--json"]);
    let list: Vec<serde_json::Value> = serde_json::from_str(&ps.stdout).unwrap();
    assert_eq!(list.iter().filter(|x| x["state"] == "running").count(), 1000);
    run.signal(Signal::SIGTERM);
    let f = run.wait();
    assert_eq!(f.status, 0, "{}", f.stderr);
    p.assert_nothing_left();
}

/// Starts a set, waits for `ready` in corral's stderr, SIGKILLs corral, and checks nothing survives.
fn kill_9_when(setup: &str, ready: &str, before_kill: impl FnOnce(&support::Run)) {
    let p = Project::new();
    p.config(serde_json::from_str(setup).unwrap());
    let mut run = p.start(&["up", "-f", "dev.json"]);
    assert!(wait_until(HANG_GUARD, || run.stderr().contains(ready)), "never saw {ready:?}: {}", run.stderr());
    before_kill(&run);
    run.signal(Signal::SIGKILL);
    run.child.wait().unwrap();
    p.assert_nothing_left();
}

#[test]
fn kill_9_while_starting_leaves_nothing() {
    // Many processes, killed as the first ones start.
    let procs: serde_json::Map<String, serde_json::Value> =
        (0..50).map(|i| (format!("s{i:02}"), json!({"command": "setsid sh -c 'sleep 300' & exec sleep 300"}))).collect();
    kill_9_when(&json!({"processes": procs}).to_string(), ": started (pid", |_| {});
}

#[test]
fn kill_9_while_running_leaves_nothing() {
    kill_9_when(
        r#"{"processes": {"a": {"command": "setsid sh -c 'sleep 301' & exec sleep 300"}, "b": {"command": "trap '' TERM; while true; do sleep 0.05; done"}}}"#,
        "b: started",
        |_| std::thread::sleep(Duration::from_millis(200)),
    );
}

#[test]
fn kill_9_while_stopping_leaves_nothing() {
    kill_9_when(
        r#"{"processes": {"stubborn": {"command": "trap '' TERM; echo up; while true; do sleep 0.05; done", "shutdown": {"timeout_seconds": 300}}}}"#,
        "stubborn: started",
        |run| {
            run.signal(Signal::SIGTERM);
            assert!(wait_until(HANG_GUARD, || run.stderr().contains("stubborn: stopping")));
        },
    );
}

#[test]
fn an_unwritable_log_file_is_a_clear_error_and_processes_keep_running() {
    let p = Project::new();
    // /dev/full: opening works, every write fails (ENOSPC), as on a full disk.
    p.config(json!({"processes": {"w": {"command": "for i in 1 2 3; do echo line $i; sleep 0.1; done", "log_location": "/dev/full"}}}));
    let f = p.up(&[]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert_eq!(f.lines_of("w"), ["line 1", "line 2", "line 3"], "stdout still gets every line");
    assert!(f.stderr.contains("cannot write a log file") && f.stderr.contains("its processes keep running"), "{}", f.stderr);
    // A log directory that cannot be created: nothing starts.
    p.write("blocker", "a file, not a directory");
    p.config(json!({"pre_hook": "touch started", "processes": {"w": {"command": "true", "log_location": "blocker/w.log"}}}));
    let f = p.up(&[]);
    assert_eq!(f.status, 2, "{}", f.stderr);
    assert!(f.stderr.contains("cannot create log directory") && f.stderr.contains("blocker"), "{}", f.stderr);
    assert!(!p.file("started").exists());
}

#[test]
fn sigterm_while_a_post_hook_runs_forever_exits_0_and_leaves_nothing() {
    let p = Project::new();
    p.config(json!({"post_hook": "echo post running; sleep 300", "processes": {"a": {"command": "true"}}}));
    let run = p.start(&["up", "-f", "dev.json"]);
    run.wait_for("post running");
    run.signal(Signal::SIGTERM);
    let f = run.wait();
    assert_eq!(f.status, 0, "a run stopped by a signal exits 0\n{}", f.stderr);
    p.assert_nothing_left();
}

/// Starts a run whose `hook` ignores SIGTERM, waits until it says `hooked`, and sends SIGTERM `signals` times.
fn stop_a_stubborn_hook(hook: &str, signals: usize) -> (Project, support::Finished) {
    let p = Project::new();
    let stubborn = "trap '' TERM; echo hooked; while true; do sleep 0.1; done";
    let config = if hook == "pre_hook" {
        json!({"pre_hook": stubborn, "processes": {"a": {"command": "touch started"}}})
    } else {
        json!({"post_hook": stubborn, "processes": {"a": {"command": "true"}}})
    };
    p.config(config);
    let run = p.start(&["up", "-f", "dev.json"]);
    run.wait_for("hooked");
    for _ in 0..signals {
        run.signal(Signal::SIGTERM);
        std::thread::sleep(Duration::from_millis(100));
    }
    let f = run.wait();
    p.assert_nothing_left();
    (p, f)
}

#[test]
fn a_pre_hook_ignoring_sigterm_is_killed_after_the_stop_timeout() {
    let (p, f) = stop_a_stubborn_hook("pre_hook", 1);
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert!(f.stderr.contains("pre_hook: still running 10s after SIGTERM; sending SIGKILL"), "{}", f.stderr);
    assert!(!p.file("started").exists(), "nothing started after a stopped pre_hook");
}

#[test]
fn a_second_sigterm_ends_a_run_whose_pre_hook_ignores_sigterm() {
    let (p, f) = stop_a_stubborn_hook("pre_hook", 2);
    assert_eq!(f.status, 130, "{}", f.stderr);
    assert!(f.stderr.contains("again: killing pre_hook now"), "{}", f.stderr);
    assert!(!p.file("started").exists());
}

#[test]
fn a_post_hook_ignoring_sigterm_is_killed_after_the_stop_timeout_or_at_a_second_signal() {
    let (_, f) = stop_a_stubborn_hook("post_hook", 1);
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert!(f.stderr.contains("post_hook: still running 10s after SIGTERM; sending SIGKILL"), "{}", f.stderr);
    let (_, f) = stop_a_stubborn_hook("post_hook", 2);
    assert_eq!(f.status, 130, "{}", f.stderr);
}

#[test]
fn a_leader_that_leaves_its_process_group_is_still_stopped() {
    let p = Project::new();
    // `mover.py TARGET NAME`: moves into corral's group (`corral`) or the group
    // whose id is in the file TARGET, then notes SIGTERM without dying of it.
    p.write("mover.py", r#"
import os, signal, sys, time
target, name = sys.argv[1], sys.argv[2]
if target == "corral":
    pgid = os.getpgid(os.getppid())
else:
    while not os.path.exists(target) or not open(target).read().strip():
        time.sleep(0.02)
    pgid = int(open(target).read())
os.setpgid(0, pgid)
signal.signal(signal.SIGTERM, lambda *a: open("term-" + name, "w").close())
print("moved", os.getpgid(0) != os.getpid(), flush=True)
time.sleep(300)
"#);
    p.config(json!({"processes": {
        "to_corral": {"command": "exec python3 mover.py corral to_corral", "shutdown": {"timeout_seconds": 1}},
        "neighbour": {"command": "echo $$ > neighbour.tmp; mv neighbour.tmp neighbour.pid; exec sleep 300"},
        "to_neighbour": {"command": "exec python3 mover.py neighbour.pid to_neighbour", "shutdown": {"timeout_seconds": 1}}
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    assert!(wait_until(HANG_GUARD, || run.stdout().matches("moved True").count() == 2), "{}\n{}", run.stdout(), run.stderr());
    run.signal(Signal::SIGTERM);
    let f = run.wait();
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert!(p.file("term-to_corral").exists() && p.file("term-to_neighbour").exists(), "the stop signal reached both leaders");
    assert!(f.stderr.contains("to_corral: still running 1s after it was asked to stop; sending SIGKILL"), "{}", f.stderr);
    p.assert_nothing_left();
}

#[test]
fn a_second_signal_ends_the_run_and_kills_a_leader_that_left_its_group() {
    let p = Project::new();
    p.config(json!({"processes": {
        "escaper": {"command": "exec python3 -c 'import os, signal, time\nos.setpgid(0, os.getpgid(os.getppid()))\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint(\"moved\", flush=True)\ntime.sleep(300)'",
                    "shutdown": {"timeout_seconds": 300}}
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    run.wait_for("moved");
    run.signal(Signal::SIGTERM);
    assert!(wait_until(HANG_GUARD, || run.stderr().contains("escaper: stopping")), "{}", run.stderr());
    run.signal(Signal::SIGTERM);
    let f = run.wait();
    assert_eq!(f.status, 130, "{}", f.stderr);
    p.assert_nothing_left();
}

#[test]
fn leftovers_of_a_restarted_process_are_stopped_before_it_starts_again() {
    let p = Project::new();
    // Each run leaves a background job that ignores SIGTERM, and first reports
    // which jobs of earlier runs are still alive.
    let command = r#"for j in $(cat jobs.txt 2>/dev/null); do kill -0 $j 2>/dev/null && echo "job $j still alive"; done
sh -c 'trap "" TERM; while true; do sleep 0.05; done' & echo $! >> jobs.txt
echo run; sleep 0.1; exit 1"#;
    p.config(json!({"processes": {
        "leaky": {"command": command, "shutdown": {"timeout_seconds": 0.5},
                  "availability": {"restart": "on_failure", "max_restarts": 3, "backoff_seconds": 0.1}}
    }}));
    let f = p.up(&[]);
    assert_eq!(f.status, 1, "{}", f.stderr);
    assert_eq!(f.lines_of("leaky"), ["run"; 4], "four runs, and no job of an earlier run alive at the start of the next\n{}", f.stderr);
    assert_eq!(f.stderr.matches("leaky: stopping what is left of its previous run").count(), 3, "{}", f.stderr);
    assert!(f.stderr.contains("leftovers of its previous run still there after 500ms; sending SIGKILL"), "{}", f.stderr);
    p.assert_nothing_left();
}

/// corral's guardian: its child running `corral-guard` (or `corral __guard`).
fn guardian_of(corral: i32) -> Option<i32> {
    std::fs::read_dir("/proc").ok()?.flatten().filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok()).find(|&pid| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ppid = stat.rsplit_once(')').and_then(|(_, r)| r.split_whitespace().nth(1)?.parse::<i32>().ok());
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd);
        ppid == Some(corral) && (cmd.contains("corral-guard") || cmd.contains("__guard")) && support::is_live(pid)
    })
}

#[test]
fn the_guardian_ignores_sigterm_and_one_that_dies_is_replaced() {
    let p = Project::new();
    p.config(json!({"processes": {
        "daemon": {"command": "setsid sh -c 'sleep 301' & echo up; exec sleep 300"}
    }}));
    let mut run = p.start(&["up", "-f", "dev.json"]);
    run.wait_for("up");
    let first = guardian_of(run.pid()).expect("a guardian");
    // A stray SIGTERM (a `pkill`, a wrong pid) does not disarm it.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(first), Signal::SIGTERM).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(support::is_live(first), "the guardian survived SIGTERM");
    // One that dies anyway is replaced, and corral says so.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(first), Signal::SIGKILL).unwrap();
    assert!(wait_until(HANG_GUARD, || run.stderr().contains("started a new one")), "{}", run.stderr());
    let second = guardian_of(run.pid()).expect("a new guardian");
    assert_ne!(first, second);
    // The new guardian knows the run: kill -9 of corral leaves nothing.
    run.signal(Signal::SIGKILL);
    run.child.wait().unwrap();
    p.assert_nothing_left();
}

/// A daemon that scrubs its environment (so no marker finds it), leaves its
/// session and is re-parented to corral; `kill -9` of corral must still end it.
fn scrubbed_daemon_dies_with_corral(env: &[(&str, &str)]) -> String {
    let p = Project::new();
    p.config(json!({"processes": {
        "spawner": {"command": "env -i setsid sh -c '(exec sleep 300) & echo $! > daemon.pid'; echo launched; exec sleep 300"}
    }}));
    let mut run = p.start_with(&["up", "-f", "dev.json", "-v"], env);
    run.wait_for("launched");
    let daemon: i32 = {
        assert!(wait_until(HANG_GUARD, || p.read("daemon.pid").trim().parse::<i32>().is_ok()));
        p.read("daemon.pid").trim().parse().unwrap()
    };
    assert!(support::is_live(daemon));
    let environ = std::fs::read(format!("/proc/{daemon}/environ")).unwrap_or_default();
    assert!(!String::from_utf8_lossy(&environ).contains("CORRAL"), "the daemon carries no marker of the run");
    let fallback = run.stderr().contains("containment: process groups");
    if fallback {
        // Without a cgroup, corral learns of the orphan when it scans its children.
        assert!(wait_until(HANG_GUARD, || run.stderr().contains(&format!("told the guardian of orphan {daemon}"))), "{}", run.stderr());
    }
    run.signal(Signal::SIGKILL);
    run.child.wait().unwrap();
    let gone = wait_until(Duration::from_secs(20), || !support::is_live(daemon));
    if !gone {
        unsafe { nix::libc::kill(daemon, nix::libc::SIGKILL) };
    }
    assert!(gone, "the daemon {daemon} survived kill -9 of corral");
    p.assert_nothing_left();
    run.stderr()
}

#[test]
fn a_daemon_that_scrubs_its_environment_dies_with_a_killed_corral() {
    let stderr = scrubbed_daemon_dies_with_corral(&[]);
    // Root on a machine with a writable cgroup v2 hierarchy (this one): the run has a cgroup.
    let v2 = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default().contains(" - cgroup2 ");
    if v2 && nix::unistd::getuid().is_root() {
        assert!(stderr.contains("containment: every process joins the cgroup"), "{stderr}");
    }
}

#[test]
fn without_a_cgroup_a_daemon_that_scrubs_its_environment_dies_with_a_killed_corral() {
    let stderr = scrubbed_daemon_dies_with_corral(&[("CORRAL_CGROUP", "off")]);
    assert!(stderr.contains("containment: process groups, subreaper and guardian (CORRAL_CGROUP=off)"), "{stderr}");
}
