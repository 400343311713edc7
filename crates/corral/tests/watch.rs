//! File watching against real files.
//!
//! Each process appends a line to `<name>.runs` when it starts, so the number of
//! runs is the number of lines. "Nothing happened" is only asserted after a
//! change that must trigger has been seen to trigger, so the watcher is known
//! to be live and the absence is not mere slowness.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::{wait_until, Project, Run, HANG_GUARD};

fn runs(p: &Project, name: &str) -> usize {
    p.lines(&format!("{name}.runs")).len()
}

fn start(p: &Project, config: Value) -> Run {
    p.config(config);
    p.start(&["up", "-f", "dev.json"])
}

fn expect_runs(p: &Project, run: &Run, name: &str, n: usize) {
    assert!(wait_until(HANG_GUARD, || runs(p, name) >= n), "{name}: expected {n} runs, saw {}\n{}", runs(p, name), run.stderr());
    // Settled: no extra run follows.
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(runs(p, name), n, "{name}: one run per change\n{}", run.stderr());
}

fn stop(run: Run) {
    run.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(run.wait().status, 0);
}

fn server(watch: Value) -> Value {
    json!({"command": "echo run >> server.runs; exec sleep 300", "watch": watch})
}

#[test]
fn a_change_restarts_a_long_running_process_and_ignored_files_do_not() {
    let p = Project::new();
    std::fs::create_dir_all(p.file("src")).unwrap();
    std::fs::create_dir_all(p.file(".git")).unwrap();
    p.write(".gitignore", "*.log\ngenerated/\n");
    p.write("src/main.rs", "fn main() {}");
    let run = start(&p, json!({"processes": {"server": server(json!({"paths": ["src"], "extensions": ["rs"], "debounce": "200ms"}))}}));
    expect_runs(&p, &run, "server", 1);
    p.write("src/main.rs", "fn main() { changed }");
    expect_runs(&p, &run, "server", 2);
    assert!(run.stderr().contains("server: src/main.rs changed; restarting"), "{}", run.stderr());
    // Ignored by .gitignore, or of another extension: nothing.
    p.write("src/debug.log", "x");
    std::fs::create_dir_all(p.file("src/generated")).unwrap();
    p.write("src/generated/code.rs", "x");
    p.write("src/notes.txt", "x");
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(runs(&p, "server"), 2, "{}", run.stderr());
    p.write("src/lib.rs", "x");
    expect_runs(&p, &run, "server", 3);
    stop(run);
    p.assert_nothing_left();
}

#[test]
fn gitignore_can_be_switched_off_and_include_exclude_globs_apply() {
    let p = Project::new();
    std::fs::create_dir_all(p.file("conf/tmp")).unwrap();
    p.write(".gitignore", "*.log\n");
    let run = start(&p, json!({"processes": {"server": server(json!({
        "paths": [{"path": "conf", "include": ["*.toml", "*.log"], "exclude": "tmp/**"}],
        "gitignore": false, "debounce": "200ms"
    }))}}));
    expect_runs(&p, &run, "server", 1);
    p.write("conf/app.log", "x");
    expect_runs(&p, &run, "server", 2);
    p.write("conf/tmp/scratch.toml", "x");
    p.write("conf/readme.md", "x");
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(runs(&p, "server"), 2);
    p.write("conf/app.toml", "x");
    expect_runs(&p, &run, "server", 3);
    stop(run);
}

#[test]
fn a_thousand_changes_within_the_debounce_window_give_one_restart() {
    let p = Project::new();
    std::fs::create_dir_all(p.file("src")).unwrap();
    let run = start(&p, json!({"processes": {"server": server(json!({"paths": ["src"], "debounce": "500ms"}))}}));
    expect_runs(&p, &run, "server", 1);
    let burst = "import os\nfor i in range(1000):\n    with open('src/hot.txt', 'a') as f: f.write('%d\\n' % i)\n";
    let out = std::process::Command::new("python3").args(["-c", burst]).current_dir(p.path()).status().unwrap();
    assert!(out.success());
    expect_runs(&p, &run, "server", 2);
    stop(run);
}

#[test]
fn a_one_shot_re_runs_and_the_watcher_stays_active_after_it_exits() {
    let p = Project::new();
    std::fs::create_dir_all(p.file("src")).unwrap();
    let run = start(&p, json!({"processes": {"build": {"command": "echo run >> build.runs; ls src > /dev/null", "watch": {"paths": ["src"], "debounce": "200ms"}}}}));
    expect_runs(&p, &run, "build", 1);
    assert!(wait_until(HANG_GUARD, || run.stderr().contains("build: exited with status 0")));
    p.write("src/a", "1");
    expect_runs(&p, &run, "build", 2);
    p.write("src/a", "2");
    expect_runs(&p, &run, "build", 3);
    assert!(run.stderr().contains("build: src/a changed; running it again"), "{}", run.stderr());
    stop(run);
}

#[test]
fn a_deleted_and_recreated_directory_and_a_path_that_does_not_exist_yet_keep_being_watched() {
    let p = Project::new();
    std::fs::create_dir_all(p.file("src")).unwrap();
    let run = start(&p, json!({"processes": {"server": server(json!({"paths": ["src", "later/deep"], "debounce": "200ms"}))}}));
    expect_runs(&p, &run, "server", 1);
    assert!(run.stderr().contains("later/deep does not exist (now); waiting for it in"), "{}", run.stderr());
    std::fs::remove_dir_all(p.file("src")).unwrap();
    expect_runs(&p, &run, "server", 2); // the removal itself is a change
    std::fs::create_dir_all(p.file("src")).unwrap();
    expect_runs(&p, &run, "server", 3);
    p.write("src/new.rs", "x");
    expect_runs(&p, &run, "server", 4);
    std::fs::create_dir_all(p.file("later/deep")).unwrap();
    expect_runs(&p, &run, "server", 5);
    assert!(run.stderr().contains("later/deep appeared; watching it"), "{}", run.stderr());
    p.write("later/deep/file", "x");
    expect_runs(&p, &run, "server", 6);
    stop(run);
}

#[test]
fn a_change_revives_a_process_that_gave_up_and_watch_restarts_do_not_count() {
    let p = Project::new();
    std::fs::create_dir_all(p.file("src")).unwrap();
    let run = start(&p, json!({"processes": {"crashy": {
        "command": "echo run >> crashy.runs; test -f src/fixed && exec sleep 300; exit 1",
        "availability": {"restart": "on_failure", "max_restarts": 1, "backoff_seconds": 0.05},
        "watch": {"paths": ["src"], "debounce": "200ms"}
    }}}));
    expect_runs(&p, &run, "crashy", 2);
    assert!(wait_until(HANG_GUARD, || run.stderr().contains("crashy: failed: gave up after 1 restart")));
    p.write("src/fixed", "");
    expect_runs(&p, &run, "crashy", 3);
    // Now healthy; two watch restarts in a row are not limited by max_restarts 1.
    p.write("src/a", "1");
    expect_runs(&p, &run, "crashy", 4);
    p.write("src/a", "2");
    expect_runs(&p, &run, "crashy", 5);
    stop(run);
}

#[test]
fn cascade_restarts_dependents_after_their_dependency() {
    let p = Project::new();
    std::fs::create_dir_all(p.file("src")).unwrap();
    let run = start(&p, json!({"processes": {
        "build": {"command": "echo run >> build.runs; echo build >> order.log; sleep 0.2", "watch": {"paths": ["src"], "debounce": "200ms", "cascade": true}},
        "app": {"command": "echo run >> app.runs; echo app >> order.log; exec sleep 300", "depends_on": {"build": {"condition": "process_completed_successfully"}}},
        "other": {"command": "echo run >> other.runs; exec sleep 300"}
    }}));
    expect_runs(&p, &run, "app", 1);
    p.write("src/x", "1");
    expect_runs(&p, &run, "app", 2);
    assert_eq!(p.lines("order.log"), ["build", "app", "build", "app"], "the dependent restarts after its dependency ran again");
    assert_eq!(runs(&p, "other"), 1, "unrelated processes keep running");
    stop(run);
}

#[test]
fn bad_watch_input_is_a_clear_error() {
    let p = Project::new();
    p.config(json!({"processes": {"a": {"command": "true", "watch": {"paths": [{"path": "src", "include": "[bad"}], "debounce": "later"}}}}));
    let f = p.up(&[]);
    assert_eq!(f.status, 2);
    assert!(f.stderr.contains("processes.a.watch.debounce: expected a duration like \"300ms\""), "{}", f.stderr);
    p.config(json!({"processes": {"a": {"command": "true", "watch": {"paths": [{"path": "src", "include": "[bad"}]}}}}));
    let f = p.up(&[]);
    assert_eq!(f.status, 2);
    assert!(f.stderr.contains("processes.a.watch.paths[0].include[0]: invalid glob \"[bad\""), "{}", f.stderr);
}
