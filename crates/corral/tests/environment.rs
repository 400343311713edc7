//! What a process sees: its environment, its directory, its stdin.

mod support;

use serde_json::json;
use support::Project;

#[test]
fn layers_in_order_and_no_load_time_expansion() {
    let p = Project::new();
    p.config(json!({
        "environment": ["LAYER=global", "ONLY_GLOBAL=g", "LITERAL=$HOME"],
        "pre_hook": "export LAYER=hook HOOKED=yes",
        "processes": {
            "show": {
                "command": "echo \"$LAYER $ONLY_GLOBAL $HOOKED $CORRAL_PROCESS_NAME\"; echo \"$LITERAL\"; echo \"$OWN\"",
                "environment": {"OWN": "$USER-x"}
            },
            "override": {"command": "echo $LAYER", "environment": ["LAYER=process"]}
        }
    }));
    let f = p.up(&[]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert_eq!(f.lines_of("show"), ["hook g yes show", "$HOME", "$USER-x"]);
    assert_eq!(f.lines_of("override"), ["process"]);
}

#[test]
fn handoff_variables_of_corral_itself_are_not_passed_on() {
    let p = Project::new();
    p.config(json!({"processes": {"env": {"command": "echo \"[${LISTEN_FDS-unset}] [${NOTIFY_SOCKET-unset}] [${WATCHDOG_USEC-unset}] [$KEPT]\""}}}));
    let f = p
        .start_with(&["up", "-f", "dev.json"], &[("LISTEN_FDS", "3"), ("LISTEN_PID", "1"), ("NOTIFY_SOCKET", "/x"), ("WATCHDOG_USEC", "5"), ("KEPT", "k")])
        .wait();
    assert_eq!(f.lines_of("env"), ["[unset] [unset] [unset] [k]"]);
}

#[test]
fn own_process_group_stdin_null_and_project_root() {
    let p = Project::new();
    std::fs::create_dir(p.file("sub")).unwrap();
    p.config(json!({"processes": {
        "facts": {
            "command": "ps -o pgid= -p $$ | tr -d ' '; echo $$; cat; echo \"stdin done\"; pwd; echo \"$CORRAL_PROJECT_ROOT\"",
            "working_dir": "sub"
        }
    }}));
    let f = p.up(&[]);
    let lines = f.lines_of("facts");
    assert_eq!(lines[0], lines[1], "the process leads its own group: {lines:?}");
    assert_eq!(lines[2], "stdin done", "stdin is /dev/null (cat returns at once)");
    let root = p.path().canonicalize().unwrap();
    assert_eq!(std::path::Path::new(lines[3]).canonicalize().unwrap(), root.join("sub"));
    assert_eq!(std::path::Path::new(lines[4]).canonicalize().unwrap(), root);
}

#[test]
fn configured_shell_runs_commands() {
    let p = Project::new();
    p.config(json!({
        "shell": {"shell_command": "sh", "shell_argument": "-c"},
        "processes": {"s": {"command": "echo \"$0\""}}
    }));
    let f = p.up(&[]);
    assert_eq!(f.lines_of("s"), ["sh"]);
}

#[test]
fn schema_prints_json_schema() {
    let p = Project::new();
    let f = p.start(&["schema"]).wait();
    assert_eq!(f.status, 0);
    let v: serde_json::Value = serde_json::from_str(&f.stdout).unwrap();
    assert_eq!(v["title"], "corral process set");
    assert!(v["properties"]["processes"].is_object());
    assert!(v["properties"]["pre_hook"].is_object());
}
