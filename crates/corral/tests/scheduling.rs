//! corral's own threads are batch work (SCHED_BATCH: they never preempt the
//! processes they serve); the processes, hooks and probes it starts run under
//! the default policy; a corral started under another policy leaves it alone.

mod support;

use std::process::{Command, Stdio};

use serde_json::json;
use support::{wait_until, Project, CORRAL, HANG_GUARD};

/// Prints the policy a process runs under (0 = SCHED_OTHER, 3 = SCHED_BATCH, 5 = SCHED_IDLE).
const SHOW: &str = "python3 -c 'import os; print(\"policy\", os.sched_getscheduler(0))'";

/// The policy of each thread of `pid` (field 41 of /proc/PID/task/TID/stat).
fn thread_policies(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap();
        out.push(stat.rsplit_once(')').unwrap().1.split_whitespace().nth(38).unwrap().parse().unwrap());
    }
    out
}

#[test]
fn corral_runs_as_batch_work_and_what_it_starts_does_not() {
    let p = Project::new();
    p.config(json!({
        "pre_hook": format!("{SHOW} > hook.txt"),
        "processes": {
            "shown": {"command": SHOW},
            "probed": {"command": "exec sleep 300", "readiness_probe": {"exec": {"command": format!("{SHOW} > probe.txt")}, "period_seconds": 1}},
            "waiting": {"command": "echo up; exec sleep 300"}
        }
    }));
    let run = p.start(&["up", "-f", "dev.json"]);
    run.wait_for("| up");
    run.wait_for("| policy");
    // The shell creates the file before the probe writes to it: wait for the text.
    assert!(wait_until(HANG_GUARD, || std::fs::read_to_string(p.file("probe.txt")).unwrap_or_default().contains("policy")), "the probe never ran");
    let policies = thread_policies(run.pid());
    assert!(!policies.is_empty() && policies.iter().all(|&p| p == 3), "every thread of corral is SCHED_BATCH: {policies:?}");
    run.signal(nix::sys::signal::Signal::SIGTERM);
    let f = run.wait();
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert_eq!(f.lines_of("shown"), ["policy 0"], "a process runs under the default policy");
    assert_eq!(p.read("hook.txt").trim(), "policy 0", "so does a hook");
    assert_eq!(p.read("probe.txt").trim(), "policy 0", "and a probe");
    p.assert_nothing_left();
}

#[test]
fn a_corral_started_under_another_policy_keeps_it_for_everything() {
    let p = Project::new();
    p.config(json!({"processes": {"shown": {"command": SHOW}}}));
    let out = Command::new("chrt")
        .args(["--idle", "0", CORRAL, "up", "-f", "dev.json"])
        .current_dir(p.path())
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .expect("chrt (util-linux)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.lines().any(|l| l.ends_with("| policy 5")), "SCHED_IDLE, as corral was started: {stdout}");
    p.assert_nothing_left();
}

#[test]
fn a_detached_run_is_batch_work_too_its_own_log_threads_included() {
    let p = Project::new();
    p.config(json!({"name": "sched", "processes": {"shown": {"command": format!("{SHOW}; exec sleep 300")}}}));
    let up = p.corral(&["up", "-f", "dev.json", "-d", "--wait", "--timeout", "30"]);
    assert_eq!(up.status, 0, "{}", up.stderr);
    let dir = p.state_dir("sched");
    let pid: i32 = std::fs::read_to_string(dir.join("lock")).unwrap().trim().parse().unwrap();
    let names: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
        .map(|t| std::fs::read_to_string(t.path().join("comm")).unwrap().trim().to_string())
        .collect();
    let policies = thread_policies(pid);
    assert!(names.iter().any(|n| n == "corral-own-log"), "corral's own log has its thread: {names:?}");
    assert!(policies.iter().all(|&p| p == 3), "every thread of a detached corral is SCHED_BATCH: {names:?} {policies:?}");
    assert!(wait_until(HANG_GUARD, || p.corral(&["logs", "--config", "dev.json", "-n", "1", "shown"]).stdout.contains("policy 0")));
    assert_eq!(p.corral(&["down", "-f", "dev.json"]).status, 0);
    p.assert_nothing_left();
}
