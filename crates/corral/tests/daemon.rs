//! `is_daemon`: a command that forks a daemon and exits is running while the
//! daemon lives, stopped with nothing left, and its death is noticed. Real
//! daemons: redis-server --daemonize and a double-forking shell.

mod support;

use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::json;
use support::{free_port, is_live, wait_until, Project};

const BOUND: Duration = Duration::from_secs(20);

fn redis_answers(port: u16) -> bool {
    std::process::Command::new("redis-cli")
        .args(["-p", &port.to_string(), "ping"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "PONG")
        .unwrap_or(false)
}

#[test]
fn redis_daemonized_is_ready_serves_its_dependent_and_stops_with_nothing_left() {
    let p = Project::new();
    let port = free_port();
    p.config(json!({"processes": {
        "redis": {
            "command": format!("redis-server --port {port} --daemonize yes --save '' --appendonly no --dir . --pidfile ./redis.pid"),
            "is_daemon": true,
            "readiness_probe": {"exec": {"command": format!("redis-cli -p {port} ping | grep -q PONG")}, "period_seconds": 0.2}
        },
        "api": {
            "command": format!("redis-cli -p {port} set greeting hello && echo api wrote; sleep 300"),
            "depends_on": {"redis": {"condition": "process_healthy"}}
        }
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    run.wait_for("api wrote");
    assert!(redis_answers(port));
    let stderr = run.stderr();
    assert!(stderr.contains("redis: its command exited; following its daemon"), "{stderr}");
    assert!(!stderr.contains("redis: completed"), "the launcher's exit is not the end: {stderr}");
    let ps = p.corral(&["ps", "-f", "dev.json", "--json"]);
    assert!(ps.stdout.contains("\"redis\"") && ps.stdout.contains("\"ready\":true"), "{}", ps.stdout);
    let daemon: i32 = std::fs::read_to_string(p.file("redis.pid")).unwrap().trim().parse().unwrap();
    assert!(is_live(daemon));
    assert!(ps.stdout.contains(&format!("\"pid\":{daemon}")), "ps shows the daemon's pid: {}", ps.stdout);
    run.signal(Signal::SIGTERM);
    let f = run.wait();
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert!(!is_live(daemon), "the daemon was stopped");
    assert!(!redis_answers(port));
    p.assert_nothing_left();
}

/// A shell that double-forks a `setsid` daemon (which leaves the process group).
const DOUBLE_FORK: &str = r#"( setsid sh -c 'echo $$ > daemon.pid; echo started >> starts.log; exec sleep 300' < /dev/null > /dev/null 2>&1 & ) ; sleep 0.2"#;

fn daemon_pid(p: &Project) -> Option<i32> {
    std::fs::read_to_string(p.file("daemon.pid")).ok()?.trim().parse().ok()
}

#[test]
fn a_double_forked_daemon_that_dies_is_noticed_and_restarted_by_policy() {
    let p = Project::new();
    p.config(json!({"processes": {
        "d": {"command": DOUBLE_FORK, "is_daemon": true, "availability": {"restart": "on_failure", "backoff_seconds": 0.1, "max_restarts": 1}}
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    assert!(wait_until(BOUND, || daemon_pid(&p).is_some_and(is_live)), "{}", run.stderr());
    let first = daemon_pid(&p).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert!(!run.stderr().contains("d: completed"), "{}", run.stderr());
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(first), Signal::SIGKILL).unwrap();
    assert!(wait_until(BOUND, || run.stderr().contains("d: its daemon is gone")), "{}", run.stderr());
    assert!(wait_until(BOUND, || daemon_pid(&p).is_some_and(|d| d != first && is_live(d))), "restarted: {}", run.stderr());
    assert_eq!(p.lines("starts.log").len(), 2);
    let second = daemon_pid(&p).unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(second), Signal::SIGKILL).unwrap();
    let f = run.wait();
    assert_eq!(f.status, 1, "gave up after one restart: {}", f.stderr);
    assert!(f.stderr.contains("gave up after 1 restart(s)"), "{}", f.stderr);
    p.assert_nothing_left();
}

#[test]
fn a_daemon_is_stopped_with_its_shutdown_command() {
    let p = Project::new();
    p.config(json!({"processes": {
        "d": {
            "command": DOUBLE_FORK,
            "is_daemon": true,
            "shutdown": {"command": "echo stopping >> stop.log; kill $(cat daemon.pid)", "timeout_seconds": 5}
        }
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    assert!(wait_until(BOUND, || daemon_pid(&p).is_some_and(is_live)), "{}", run.stderr());
    let daemon = daemon_pid(&p).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    run.signal(Signal::SIGTERM);
    let f = run.wait();
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert_eq!(p.lines("stop.log"), ["stopping"]);
    assert!(!is_live(daemon));
    assert!(!f.stderr.contains("SIGKILL"), "stopped by its command, not killed: {}", f.stderr);
    p.assert_nothing_left();
}

#[test]
fn a_daemon_that_ignores_its_stop_signal_is_killed_at_the_timeout() {
    let p = Project::new();
    p.config(json!({"processes": {
        "d": {
            "command": r#"( setsid sh -c 'trap "" TERM; echo $$ > daemon.pid; while :; do sleep 0.1; done' < /dev/null > /dev/null 2>&1 & ) ; sleep 0.2"#,
            "is_daemon": true,
            "shutdown": {"timeout_seconds": 0.5}
        }
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    assert!(wait_until(BOUND, || daemon_pid(&p).is_some_and(is_live)), "{}", run.stderr());
    let daemon = daemon_pid(&p).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    run.signal(Signal::SIGTERM);
    let f = run.wait();
    assert!(f.stderr.contains("d: its daemon still runs"), "{}", f.stderr);
    assert!(!is_live(daemon));
    p.assert_nothing_left();
}

#[test]
fn a_launcher_that_leaves_no_daemon_is_a_failure() {
    let p = Project::new();
    p.config(json!({"processes": {"d": {"command": "true", "is_daemon": true}}}));
    let f = p.up(&[]);
    assert_eq!(f.status, 1, "{}", f.stderr);
    assert!(f.stderr.contains("d: its command exited without leaving a daemon running"), "{}", f.stderr);
}

/// redis's order: fork, the parent exits, and only then the child calls
/// setsid. A daemon still in the launcher's group when the launcher's exit is
/// seen, without corral's variables (env -i, as redis overwrites them), must
/// be adopted then, or it is lost the moment it leaves the group.
#[test]
fn a_daemon_that_leaves_the_group_after_its_launcher_exited_is_still_followed() {
    let p = Project::new();
    p.config(json!({"processes": {
        "d": {"command": "env -i /bin/sh -c 'echo $$ > daemon.pid; sleep 0.5; exec setsid sleep 300' < /dev/null > /dev/null 2>&1 & sleep 0.1", "is_daemon": true}
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    assert!(wait_until(BOUND, || daemon_pid(&p).is_some_and(is_live)), "{}", run.stderr());
    let daemon = daemon_pid(&p).unwrap();
    // Past the setsid, and a few of the follower's 100 ms checks.
    std::thread::sleep(Duration::from_millis(1200));
    assert!(is_live(daemon));
    assert!(run.stderr().contains("following its daemon"), "{}", run.stderr());
    assert!(!run.stderr().contains("its daemon is gone") && !run.stderr().contains("without leaving a daemon"), "{}", run.stderr());
    run.signal(Signal::SIGTERM);
    let f = run.wait();
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert!(!is_live(daemon));
    p.assert_nothing_left();
}
