//! The exit status table of docs/exit-status.md.

mod support;

use serde_json::json;
use support::Project;

fn status(config: serde_json::Value, args: &[&str]) -> (i32, String) {
    let p = Project::new();
    p.config(config);
    let f = p.up(args);
    (f.status, f.stderr)
}

#[test]
fn all_succeeded_is_0_and_one_failed_is_1() {
    assert_eq!(status(json!({"processes": {"a": {"command": "true"}, "b": {"command": "exit 0"}}}), &[]).0, 0);
    assert_eq!(status(json!({"processes": {"a": {"command": "true"}, "b": {"command": "exit 5"}}}), &[]).0, 1);
    assert_eq!(status(json!({"processes": {"a": {"command": "kill -9 $$"}}}), &[]).0, 1);
}

#[test]
fn success_exit_codes_count_as_success() {
    let cfg = json!({"processes": {"a": {"command": "exit 3", "success_exit_codes": [0, 3]}}});
    assert_eq!(status(cfg, &[]).0, 0);
}

#[test]
fn exit_on_end_takes_that_process_status_and_stops_the_rest() {
    let (s, err) = status(
        json!({"processes": {
            "test": {"command": "sleep 0.2; exit 6", "availability": {"exit_on_end": true}},
            "server": {"command": "sleep 300"}
        }}),
        &[],
    );
    assert_eq!(s, 6, "{err}");
    assert!(err.contains("server: stopping"), "{err}");
    let cfg = json!({"processes": {
        "test": {"command": "exit 3", "success_exit_codes": [3], "availability": {"exit_on_end": true}},
        "server": {"command": "sleep 300"}
    }});
    assert_eq!(status(cfg, &[]).0, 0, "a listed success code ends the run with 0");
}

#[test]
fn skipped_dependents_make_the_run_fail_and_cascade() {
    let (s, err) = status(
        json!({"processes": {
            "init": {"command": "exit 1"},
            "api": {"command": "touch api.ran", "depends_on": {"init": {"condition": "process_completed_successfully"}}},
            "web": {"command": "touch web.ran", "depends_on": {"api": {}}}
        }}),
        &[],
    );
    assert_eq!(s, 1);
    assert!(err.contains("api: skipped: dependency init failed: exited with status 1"), "{err}");
    assert!(err.contains("web: skipped: dependency api was skipped"), "{err}");
}

#[test]
fn exit_on_skipped_ends_the_run_with_1_at_once() {
    let (s, err) = status(
        json!({"processes": {
            "init": {"command": "exit 1"},
            "api": {"command": "true", "depends_on": {"init": {"condition": "process_completed_successfully"}}, "availability": {"exit_on_skipped": true}},
            "long": {"command": "sleep 300"}
        }}),
        &[],
    );
    assert_eq!(s, 1, "{err}");
    assert!(err.contains("exit_on_skipped is set"), "{err}");
}

#[test]
fn dependency_conditions_order_the_start() {
    let p = Project::new();
    p.config(json!({"processes": {
        "first": {"command": "sleep 0.3; echo first > order.log"},
        "second": {"command": "echo second >> order.log", "depends_on": {"first": {"condition": "process_completed"}}},
        "started": {"command": "echo started-after-first-started", "depends_on": {"first": {"condition": "process_started"}}}
    }}));
    let f = p.up(&[]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert_eq!(p.read("order.log"), "first\nsecond\n");
    assert_eq!(f.lines_of("started"), ["started-after-first-started"]);
}

#[test]
fn a_missing_working_dir_fails_that_process_only() {
    let p = Project::new();
    p.config(json!({"processes": {
        "lost": {"command": "true", "working_dir": "no/such/dir"},
        "fine": {"command": "echo fine"}
    }}));
    let f = p.up(&[]);
    assert_eq!(f.status, 1);
    assert!(f.stderr.contains("lost: could not start: working_dir") && f.stderr.contains("no/such/dir does not exist"), "{}", f.stderr);
    assert_eq!(f.lines_of("fine"), ["fine"]);
}

#[test]
fn a_missing_program_fails_clearly() {
    let p = Project::new();
    p.config(json!({"processes": {"x": {"entrypoint": ["definitely-not-a-program-xyz"]}}}));
    let f = p.up(&[]);
    assert_eq!(f.status, 1);
    assert!(f.stderr.contains("cannot run definitely-not-a-program-xyz: program not found"), "{}", f.stderr);
}

#[test]
fn selection_runs_only_the_named_processes_and_their_dependencies() {
    let p = Project::new();
    p.config(json!({"processes": {
        "db": {"command": "touch db.ran"},
        "api": {"command": "touch api.ran", "depends_on": {"db": {}}},
        "other": {"command": "touch other.ran"},
        "off": {"command": "touch off.ran", "disabled": true}
    }}));
    let f = p.up(&["api"]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert!(p.file("db.ran").exists() && p.file("api.ran").exists());
    assert!(!p.file("other.ran").exists());
    let f = p.up(&[]);
    assert_eq!(f.status, 0);
    assert!(p.file("other.ran").exists() && !p.file("off.ran").exists(), "disabled processes do not run");
    p.up(&["off"]);
    assert!(p.file("off.ran").exists(), "naming a disabled process runs it");
    let f = p.up(&["nope"]);
    assert_eq!(f.status, 2);
    assert!(f.stderr.contains("unknown process \"nope\""), "{}", f.stderr);
}

#[test]
fn disabled_dependency_skips_its_dependent() {
    let (s, err) = status(
        json!({"processes": {
            "off": {"command": "true", "disabled": true},
            "needs": {"command": "true", "depends_on": {"off": {}}}
        }}),
        &[],
    );
    assert_eq!(s, 1);
    assert!(err.contains("needs: skipped: dependency off is disabled"), "{err}");
}
