//! Dependency conditions and restart policies, end to end.

mod support;

use nix::sys::signal::Signal;
use serde_json::json;
use support::{index_of, Project};

#[test]
fn log_ready_gates_a_dependent() {
    let p = Project::new();
    p.config(json!({"processes": {
        "db": {"command": "echo booting; sleep 0.3; echo 'db: listening on 5432'; sleep 300", "ready_log_line": "listening on"},
        "api": {"command": "echo api up", "depends_on": {"db": {"condition": "process_log_ready"}}, "availability": {"exit_on_end": true}}
    }}));
    let f = p.up(&[]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert!(index_of(&f.stderr, "db: ready") < index_of(&f.stderr, "api: started"));
    let out: Vec<&str> = f.stdout.lines().collect();
    let listening = out.iter().position(|l| l.contains("listening on")).unwrap();
    let api = out.iter().position(|l| l.contains("api up")).unwrap();
    assert!(listening < api, "{out:?}");
}

#[test]
fn readiness_conditions_fail_when_the_dependency_exits_before_ready() {
    let p = Project::new();
    p.config(json!({"processes": {
        "db": {"command": "echo crashing; exit 1", "ready_log_line": "never printed"},
        "hdb": {"command": "exit 0", "readiness_probe": {"exec": {"command": "false"}, "period_seconds": 5}},
        "api": {"command": "touch api.ran", "depends_on": {"db": {"condition": "process_log_ready"}}},
        "web": {"command": "touch web.ran", "depends_on": {"hdb": {"condition": "process_healthy"}}}
    }}));
    let f = p.up(&[]);
    assert_eq!(f.status, 1);
    assert!(f.stderr.contains("api: skipped: dependency db exited (status 1) before it was ready (process_log_ready required)"), "{}", f.stderr);
    assert!(f.stderr.contains("web: skipped: dependency hdb exited (status 0) before it was ready (process_healthy required)"), "{}", f.stderr);
    assert!(!p.file("api.ran").exists() && !p.file("web.ran").exists());
}

#[test]
fn on_failure_with_max_restarts_gives_up() {
    let p = Project::new();
    p.config(json!({"processes": {
        "crash": {"command": "echo run >> runs.log; exit 3", "availability": {"restart": "on_failure", "max_restarts": 3, "backoff_seconds": 0.05}}
    }}));
    let f = p.up(&[]);
    assert_eq!(f.status, 1);
    assert_eq!(p.lines("runs.log").len(), 4, "the first run and 3 restarts");
    assert!(f.stderr.contains("crash: failed: gave up after 3 restart(s) in a row; last: exited with status 3"), "{}", f.stderr);
}

#[test]
fn on_failure_does_not_restart_a_success_and_always_does() {
    let p = Project::new();
    p.config(json!({"processes": {
        "ok": {"command": "echo run >> ok.log", "availability": {"restart": "on_failure", "backoff_seconds": 0.05}},
        "again": {"command": "echo run >> again.log", "availability": {"restart": "always", "max_restarts": 2, "backoff_seconds": 0.05}}
    }}));
    let f = p.up(&[]);
    assert_eq!(f.status, 0, "always giving up after successful runs completes: {}", f.stderr);
    assert_eq!(p.lines("ok.log").len(), 1);
    assert_eq!(p.lines("again.log").len(), 3);
}

#[test]
fn backoff_grows_up_to_its_cap() {
    let p = Project::new();
    p.config(json!({"processes": {
        "crash": {
            "command": "date +%s.%N >> runs.log; exit 1",
            "availability": {"restart": "on_failure", "max_restarts": 4, "backoff_seconds": 0.1, "backoff_max_seconds": 0.4}
        }
    }}));
    let f = p.up(&[]);
    assert_eq!(f.status, 1);
    assert!(f.stderr.contains("restarting in 100ms") && f.stderr.contains("restarting in 200ms") && f.stderr.matches("restarting in 400ms").count() == 2, "{}", f.stderr);
    let t: Vec<f64> = p.lines("runs.log").iter().map(|l| l.parse().unwrap()).collect();
    assert_eq!(t.len(), 5);
    let gaps: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
    for (gap, min) in gaps.iter().zip([0.1, 0.2, 0.4, 0.4]) {
        assert!(*gap >= min * 0.95, "a restart came {gap:.3}s after the previous run, backoff is {min}s: {gaps:?}");
    }
}

#[test]
fn exit_on_failure_ends_the_run_with_the_process_status() {
    let p = Project::new();
    p.config(json!({"processes": {
        "critical": {"command": "sleep 0.2; exit 7", "availability": {"restart": "exit_on_failure"}},
        "server": {"command": "sleep 300"}
    }}));
    let f = p.up(&[]);
    assert_eq!(f.status, 7, "{}", f.stderr);
    assert!(f.stderr.contains("critical: restart is exit_on_failure: stopping the run (status 7)"), "{}", f.stderr);
}

#[test]
fn nothing_restarts_once_the_run_is_stopping_even_during_backoff() {
    let p = Project::new();
    p.config(json!({"processes": {
        "crash": {"command": "echo run >> runs.log; exit 1", "availability": {"restart": "always", "backoff_seconds": 300}}
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    assert!(support::wait_until(support::HANG_GUARD, || run.stderr().contains("restarting in 300s")));
    run.signal(Signal::SIGTERM);
    let f = run.wait();
    assert_eq!(f.status, 0);
    assert_eq!(p.lines("runs.log").len(), 1);
}

#[test]
fn a_stable_run_resets_the_restart_count() {
    let p = Project::new();
    // Run 2 lasts longer than stable_after_seconds, so the count starts over and
    // run 3 is still allowed with max_restarts 1; without the reset there would be 2 runs.
    p.config(json!({"processes": {
        "svc": {
            "command": "echo run >> runs.log; if [ $(wc -l < runs.log) -eq 2 ]; then sleep 0.8; fi; exit 1",
            "availability": {"restart": "on_failure", "max_restarts": 1, "backoff_seconds": 0.05, "stable_after_seconds": 0.5}
        }
    }}));
    let f = p.up(&[]);
    assert_eq!(f.status, 1);
    assert_eq!(p.lines("runs.log").len(), 3, "{}", f.stderr);
}

#[test]
fn dependents_keep_running_when_a_dependency_restarts() {
    let p = Project::new();
    p.config(json!({"processes": {
        "db": {
            "command": "echo run >> db.log; echo ready; if [ $(wc -l < db.log) -eq 1 ]; then sleep 0.5; exit 1; fi; sleep 300",
            "ready_log_line": "ready",
            "availability": {"restart": "on_failure", "backoff_seconds": 0.05}
        },
        "api": {"command": "echo api run >> api.log; sleep 300", "depends_on": {"db": {"condition": "process_log_ready"}}}
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    assert!(support::wait_until(support::HANG_GUARD, || p.lines("db.log").len() == 2), "{}", run.stderr());
    std::thread::sleep(std::time::Duration::from_millis(300));
    run.signal(Signal::SIGTERM);
    let f = run.wait();
    assert_eq!(f.status, 0);
    assert_eq!(p.lines("api.log").len(), 1, "api was neither restarted nor stopped when db restarted");
    assert_eq!(f.stderr.matches("api: started").count(), 1);
}

#[test]
fn a_dependent_waits_through_restarts_until_ready() {
    let p = Project::new();
    p.config(json!({"processes": {
        "db": {
            "command": "echo run >> db.log; if [ $(wc -l < db.log) -lt 3 ]; then exit 1; fi; echo ready; sleep 300",
            "ready_log_line": "ready",
            "availability": {"restart": "on_failure", "backoff_seconds": 0.05}
        },
        "api": {"command": "echo api after $(wc -l < db.log) db runs", "depends_on": {"db": {"condition": "process_log_ready"}}, "availability": {"exit_on_end": true}}
    }}));
    let f = p.up(&[]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert_eq!(f.lines_of("api"), ["api after 3 db runs"]);
}
