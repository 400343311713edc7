//! pre_hook exports and EXIT traps; post_hook only after success.

mod support;

use serde_json::json;
use support::Project;

#[test]
fn pre_hook_exports_reach_every_process() {
    let p = Project::new();
    p.config(json!({
        "pre_hook": "export DATA=\"$PWD/data\"; mkdir -p \"$DATA\"; export USER=foo",
        "processes": {
            "a": {"command": "echo \"a sees $DATA $USER\""},
            "b": {"command": "echo \"b sees $USER\"", "working_dir": "data"}
        }
    }));
    let f = p.up(&[]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    let data = p.path().join("data");
    assert_eq!(f.lines_of("a"), [format!("a sees {} foo", data.display())]);
    assert_eq!(f.lines_of("b"), ["b sees foo"]);
}

#[test]
fn trap_fires_after_success_with_the_run_status() {
    let p = Project::new();
    p.config(json!({
        "pre_hook": "mkdir -p data; trap 'echo \"trap $?\" > trap.out; rm -rf ./data' EXIT; export USER=foo",
        "processes": {"ok": {"command": "test -d data && echo present"}}
    }));
    let f = p.up(&[]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert_eq!(f.lines_of("ok"), ["present"]);
    assert_eq!(p.read("trap.out"), "trap 0\n");
    assert!(!p.file("data").exists(), "the trap removed ./data");
}

#[test]
fn trap_fires_after_failure_and_post_hook_does_not_run() {
    let p = Project::new();
    p.config(json!({
        "pre_hook": "trap 'echo \"trap $?\" > trap.out' EXIT",
        "post_hook": "touch post.ran",
        "processes": {"bad": {"command": "exit 4"}}
    }));
    let f = p.up(&[]);
    assert_eq!(f.status, 1);
    assert_eq!(p.read("trap.out"), "trap 1\n");
    assert!(!p.file("post.ran").exists(), "post_hook must not run after a failure");
}

#[test]
fn post_hook_runs_after_every_process_on_success() {
    let p = Project::new();
    p.config(json!({
        "pre_hook": "export WHO=hook",
        "post_hook": "echo \"post $WHO $(cat done.txt)\"",
        "processes": {"w": {"command": "sleep 0.2; echo finished > done.txt"}}
    }));
    let f = p.up(&[]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert_eq!(f.lines_of("post_hook"), ["post hook finished"]);
}

#[test]
fn failing_pre_hook_starts_nothing_and_sets_the_status() {
    let p = Project::new();
    p.config(json!({
        "pre_hook": "trap 'touch trap.ran' EXIT; false; echo not reached",
        "processes": {"never": {"command": "touch started"}}
    }));
    let f = p.up(&[]);
    assert_eq!(f.status, 1);
    assert!(!p.file("started").exists());
    assert!(p.file("trap.ran").exists(), "the trap fires even when the hook fails");
    assert!(f.stderr.contains("pre_hook: failed with status 1"), "{}", f.stderr);
    let p = Project::new();
    p.config(json!({"pre_hook": "exit 7", "processes": {"never": {"command": "touch started"}}}));
    assert_eq!(p.up(&[]).status, 7);
    assert!(!p.file("started").exists());
}

#[test]
fn hook_text_reaches_the_shell_unchanged() {
    let p = Project::new();
    p.config(json!({
        "pre_hook": "export LITERAL='$HOME' QUOTED=\"it's \\\"x\\\"\"",
        "processes": {"show": {"command": "printf '%s|%s\\n' \"$LITERAL\" \"$QUOTED\""}}
    }));
    let f = p.up(&[]);
    assert_eq!(f.lines_of("show"), ["$HOME|it's \"x\""]);
}

#[test]
fn background_jobs_of_the_hook_do_not_block_it_and_are_stopped_at_the_end() {
    let p = Project::new();
    p.config(json!({
        "pre_hook": "sleep 300 & export BG=$!",
        "processes": {"p": {"command": "echo bg=$BG"}}
    }));
    let f = p.up(&[]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert!(f.lines_of("p")[0].starts_with("bg="));
    p.assert_nothing_left();
}
