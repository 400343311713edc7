//! Hooks under stop signals and control requests: every phase takes both from
//! the run's one inbox (a signal, a `down`, a `ps`), and a hook that is
//! stopped leaves a stopped run's exit status (0).

mod support;


use nix::sys::signal::Signal;
use serde_json::json;
use support::{wait_until, Project, HANG_GUARD};

/// A pre_hook whose shell `exec`s a long-running program: corral's control
/// pipe to that shell is gone (the program replaced it), so the hook can
/// never report; stopping it is a stop, not a failure.
fn exec_pre_hook() -> Project {
    let p = Project::new();
    p.config(json!({"pre_hook": "export FOO=1; echo hooked; exec sleep 300", "processes": {"a": {"command": "touch started"}}}));
    p
}

#[test]
fn sigterm_during_a_pre_hook_that_execs_exits_0() {
    let p = exec_pre_hook();
    let run = p.start(&["up", "-f", "dev.json"]);
    run.wait_for("hooked");
    run.signal(Signal::SIGTERM);
    let f = run.wait();
    assert_eq!(f.status, 0, "a run stopped by a signal exits 0\n{}", f.stderr);
    assert!(!f.stderr.contains("failed"), "{}", f.stderr);
    assert!(!p.file("started").exists(), "nothing starts after a stopped pre_hook");
    p.assert_nothing_left();
}

#[test]
fn down_during_a_pre_hook_that_execs_exits_0() {
    let p = exec_pre_hook();
    let run = p.start(&["up", "-f", "dev.json"]);
    run.wait_for("hooked");
    let down = p.corral(&["down", "-f", "dev.json"]);
    assert_eq!(down.status, 0, "{}", down.stderr);
    let f = run.wait();
    assert_eq!(f.status, 0, "down is a requested stop\n{}", f.stderr);
    assert!(!f.stderr.contains("failed"), "{}", f.stderr);
    assert!(!p.file("started").exists());
    p.assert_nothing_left();
}

/// `corral ps --json` as a list of (name, state).
fn ps(p: &Project) -> Vec<(String, String)> {
    let out = p.corral(&["ps", "-f", "dev.json", "--json"]);
    assert_eq!(out.status, 0, "ps answers\n{}", out.stderr);
    let list: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    list.iter().map(|x| (x["name"].as_str().unwrap().to_string(), x["state"].as_str().unwrap().to_string())).collect()
}

#[test]
fn ps_answers_during_a_long_post_hook_and_a_second_down_does_not_force_its_stop() {
    let p = Project::new();
    p.config(json!({
        "post_hook": "trap '' TERM; echo hooked; while true; do sleep 0.1; done",
        "processes": {"a": {"command": "true"}}
    }));
    let run = p.start(&["up", "-f", "dev.json"]);
    run.wait_for("hooked");
    assert_eq!(ps(&p), [("a".to_string(), "completed".to_string())]);
    // `down` waits for the run to end, so both run beside the test.
    let first = p.start(&["down", "-f", "dev.json"]);
    assert!(wait_until(HANG_GUARD, || run.stderr().contains("received a down request")), "{}", run.stderr());
    // The post_hook ignores SIGTERM: during its stop, `ps` still answers...
    assert_eq!(ps(&p), [("a".to_string(), "completed".to_string())]);
    // ... and a second `down` is the same stop, not a forced one (as for processes).
    let second = p.start(&["down", "-f", "dev.json"]);
    let f = run.wait();
    assert_eq!(f.status, 0, "a run stopped by `down` exits 0, however many times it was asked\n{}", f.stderr);
    assert!(f.stderr.contains("post_hook: still running 10s after SIGTERM; sending SIGKILL"), "{}", f.stderr);
    assert!(!f.stderr.contains("killing post_hook now"), "{}", f.stderr);
    assert_eq!(first.wait().status, 0);
    assert_eq!(second.wait().status, 0);
    p.assert_nothing_left();
}

#[test]
fn ps_answers_during_a_long_pre_hook_exit_trap() {
    let p = Project::new();
    p.config(json!({
        "pre_hook": "trap 'echo trapped; sleep 300' EXIT",
        "processes": {"a": {"command": "true"}}
    }));
    let run = p.start(&["up", "-f", "dev.json"]);
    run.wait_for("trapped");
    assert_eq!(ps(&p), [("a".to_string(), "completed".to_string())]);
    run.signal(Signal::SIGTERM);
    let f = run.wait();
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert!(f.stderr.contains("received SIGTERM: stopping the pre_hook's EXIT trap"), "{}", f.stderr);
    p.assert_nothing_left();
}
