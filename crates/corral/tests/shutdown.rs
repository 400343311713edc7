//! Stopping: signals, order, escalation, and nothing left behind.

mod support;

use nix::sys::signal::Signal;
use serde_json::json;
use support::Project;

/// A process that records its name in stops.log when it receives SIGTERM.
fn recorder(name: &str) -> String {
    format!("trap 'echo {name} >> stops.log; exit 0' TERM; echo {name} up; while true; do sleep 0.05; done")
}

#[test]
fn sigint_stops_in_reverse_dependency_order_and_exits_0() {
    let p = Project::new();
    p.config(json!({"processes": {
        "db": {"command": recorder("db")},
        "api": {"command": recorder("api"), "depends_on": {"db": {"condition": "process_started"}}},
        "web": {"command": recorder("web"), "depends_on": {"api": {"condition": "process_started"}}}
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    run.wait_for("web | web up");
    run.wait_for("db  | db up");
    run.signal(Signal::SIGINT);
    let f = run.wait();
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert_eq!(p.read("stops.log"), "web\napi\ndb\n");
    p.assert_nothing_left();
}

#[test]
fn sigterm_and_sighup_also_stop_with_0() {
    for sig in [Signal::SIGTERM, Signal::SIGHUP] {
        let p = Project::new();
        p.config(json!({"processes": {"a": {"command": recorder("a")}}}));
        let run = p.start(&["up", "-f", "dev.json"]);
        run.wait_for("a up");
        run.signal(sig);
        let f = run.wait();
        assert_eq!(f.status, 0, "{sig}: {}", f.stderr);
        assert_eq!(p.read("stops.log"), "a\n");
    }
}

#[test]
fn a_process_ignoring_sigterm_is_killed_after_its_timeout() {
    let p = Project::new();
    p.config(json!({"processes": {
        "stubborn": {"command": "trap '' TERM; echo ready; while true; do sleep 0.05; done", "shutdown": {"timeout_seconds": 0.5}}
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    run.wait_for("ready");
    run.signal(Signal::SIGTERM);
    let f = run.wait();
    assert_eq!(f.status, 0, "a signal stop is 0 even when SIGKILL was needed");
    assert!(f.stderr.contains("sending SIGKILL to its process group"), "{}", f.stderr);
    assert!(f.stderr.contains("stubborn: exited with signal SIGKILL"), "{}", f.stderr);
    p.assert_nothing_left();
}

#[test]
fn a_group_member_ignoring_sigterm_is_killed_even_after_the_leader_exits() {
    let p = Project::new();
    p.config(json!({"processes": {
        "leader": {
            "command": "(trap '' TERM; while true; do sleep 0.05; done) & echo ready; wait",
            "shutdown": {"timeout_seconds": 0.5}
        }
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    run.wait_for("ready");
    run.signal(Signal::SIGINT);
    let f = run.wait();
    assert_eq!(f.status, 0);
    assert!(f.stderr.contains("outlived it"), "{}", f.stderr);
    p.assert_nothing_left();
}

#[test]
fn second_sigint_kills_everything_at_once_with_130() {
    let p = Project::new();
    p.config(json!({"processes": {
        "slow": {"command": "trap '' TERM INT; echo ready; while true; do sleep 0.05; done", "shutdown": {"timeout_seconds": 300}}
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    run.wait_for("ready");
    run.signal(Signal::SIGINT);
    support::wait_until(support::HANG_GUARD, || run.stderr().contains("slow: stopping"));
    run.signal(Signal::SIGINT);
    let f = run.wait();
    assert_eq!(f.status, 130, "{}", f.stderr);
    assert!(f.stderr.contains("killing every process group now"), "{}", f.stderr);
    p.assert_nothing_left();
}

#[test]
fn shutdown_command_stops_the_process() {
    let p = Project::new();
    p.config(json!({"processes": {
        "svc": {
            "command": "echo $$ > svc.pid; trap '' TERM; echo ready; while true; do sleep 0.05; done",
            "shutdown": {"command": "echo stopping via command; kill -9 $(cat svc.pid)", "timeout_seconds": 300}
        }
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    run.wait_for("ready");
    run.signal(Signal::SIGTERM);
    let f = run.wait();
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert!(f.lines_of("svc").contains(&"stopping via command"), "{}", f.stdout);
    p.assert_nothing_left();
}

#[test]
fn a_failing_shutdown_command_means_sigkill_at_once() {
    let p = Project::new();
    // With a 300 s timeout, only the immediate SIGKILL lets this finish before the hang guard.
    p.config(json!({"processes": {
        "svc": {
            "command": "trap '' TERM; echo ready; while true; do sleep 0.05; done",
            "shutdown": {"command": "exit 3", "timeout_seconds": 300}
        }
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    run.wait_for("ready");
    run.signal(Signal::SIGTERM);
    let f = run.wait();
    assert_eq!(f.status, 0);
    assert!(f.stderr.contains("shutdown command failed with status 3"), "{}", f.stderr);
    p.assert_nothing_left();
}

#[test]
fn custom_shutdown_signal_and_parent_only() {
    let p = Project::new();
    p.config(json!({"processes": {
        "usr1": {"command": "trap 'echo got USR1; exit 0' USR1; echo ready; while true; do sleep 0.05; done", "shutdown": {"signal": "SIGUSR1"}},
        "parent": {
            // Background jobs of a non-interactive shell ignore SIGINT, so use SIGUSR2,
            // which the child would report if it received it.
            "command": "(trap 'echo child got USR2; exit 0' USR2; while true; do sleep 0.05; done) & trap 'echo parent got USR2; kill -9 $!; exit 0' USR2; echo ready2; wait",
            "shutdown": {"signal": "USR2", "parent_only": true}
        }
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    run.wait_for("usr1   | ready");
    run.wait_for("ready2");
    run.signal(Signal::SIGTERM);
    let f = run.wait();
    // The whole group got SIGUSR1 (bash also reports its `sleep` killed by it).
    assert!(f.lines_of("usr1").contains(&"got USR1"), "{:?}", f.lines_of("usr1"));
    let parent = f.lines_of("parent");
    assert!(parent.contains(&"parent got USR2") && !parent.contains(&"child got USR2"), "{parent:?}");
    p.assert_nothing_left();
}

#[test]
fn a_double_forked_grandchild_is_gone_after_corral_exits() {
    let p = Project::new();
    p.config(json!({"processes": {
        "daemonizer": {"command": "setsid sh -c 'sleep 300 & exit 0' ; echo spawned; sleep 300"}
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    run.wait_for("spawned");
    assert!(p.survivors().iter().filter(|s| s.contains("sleep 300")).count() >= 2, "{:?}", p.survivors());
    run.signal(Signal::SIGTERM);
    let f = run.wait();
    assert_eq!(f.status, 0);
    // Checked right away: corral must have swept them before exiting.
    assert!(p.survivors().is_empty(), "left behind: {:?}", p.survivors());
}

#[test]
fn a_grandchild_holding_stdout_does_not_keep_the_run_alive() {
    let p = Project::new();
    p.config(json!({"processes": {
        "oneshot": {"command": "sleep 300 & echo done"}
    }}));
    let f = p.up(&[]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert_eq!(f.lines_of("oneshot"), ["done"]);
    assert!(f.stderr.contains("oneshot: exited with status 0"));
    p.assert_nothing_left();
}

#[test]
fn after_kill_9_of_corral_nothing_it_started_survives() {
    let p = Project::new();
    p.config(json!({
        "pre_hook": "trap 'echo trap > trap.out' EXIT",
        "processes": {
            "plain": {"command": "echo up1; sleep 300"},
            "escaper": {"command": "setsid sh -c 'sleep 301' & echo up2; sleep 300"},
            "ignorer": {"command": "trap '' TERM HUP INT; echo up3; while true; do sleep 0.05; done"}
        }
    }));
    let mut run = p.start(&["up", "-f", "dev.json"]);
    for n in ["up1", "up2", "up3"] {
        run.wait_for(n);
    }
    assert!(p.survivors().len() >= 5, "{:?}", p.survivors());
    run.signal(Signal::SIGKILL);
    run.child.wait().unwrap();
    p.assert_nothing_left();
    assert!(support::wait_until(support::HANG_GUARD, || p.read("trap.out") == "trap\n"), "the pre_hook's trap still ran");
}
