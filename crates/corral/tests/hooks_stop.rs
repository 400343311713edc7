//! Hooks under stop signals and control requests: every phase takes both from
//! the run's one inbox (a signal, a `down`, a `ps`), and a hook that is
//! stopped leaves a stopped run's exit status (0).

mod support;


use nix::sys::signal::Signal;
use serde_json::json;
use support::Project;

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
