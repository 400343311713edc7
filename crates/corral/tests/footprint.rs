//! corral gives back the pages its start made resident (platform/memory.rs):
//! a run whose code was dropped from memory keeps working through the real
//! binary (`ps`, `restart`, `logs`, its output, a second trim, the stop).

mod support;


use nix::sys::signal::Signal;
use serde_json::{json, Value};
use support::{wait_until, Project, HANG_GUARD, CORRAL};

const TRIMMED: &str = "memory: gave back";

/// KiB resident and KiB mapped of corral's own code (its r-x mapping) in process `pid`.
fn code_kb(pid: i32) -> (u64, u64) {
    let exe = std::fs::canonicalize(CORRAL).unwrap();
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    let (mut rss, mut size, mut ours) = (0, 0, false);
    for line in smaps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.first().is_some_and(|f| f.contains('-') && !f.ends_with(':')) {
            ours = fields.get(1) == Some(&"r-xp") && fields.get(5).map(std::path::Path::new) == Some(exe.as_path());
        } else if ours && fields[0] == "Rss:" {
            rss += fields[1].parse::<u64>().unwrap();
        } else if ours && fields[0] == "Size:" {
            size += fields[1].parse::<u64>().unwrap();
        }
    }
    (rss, size)
}

fn ps(p: &Project) -> Vec<Value> {
    let out = p.corral(&["ps", "-f", "dev.json", "--json"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    serde_json::from_str::<Value>(&out.stdout).unwrap().as_array().unwrap().clone()
}

fn field(list: &[Value], name: &str, key: &str) -> Value {
    list.iter().find(|p| p["name"] == name).unwrap()[key].clone()
}

#[test]
fn a_run_whose_code_was_trimmed_keeps_working() {
    let p = Project::new();
    p.config(json!({"name": "trim", "processes": {
        "db": {"command": "echo db ready; exec sleep 300", "ready_log_line": "db ready"},
        "ticker": {"command": "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.1; done"}
    }}));
    let run = p.start(&["-v", "up", "-f", "dev.json"]);
    // The start is over and the dispatcher has been quiet: the first trim.
    assert!(wait_until(HANG_GUARD, || run.stderr().contains(TRIMMED)), "no trim after the start\n{}", run.stderr());
    let (rss, size) = code_kb(run.pid());
    assert!(size > 0 && rss < size / 2, "corral's code is still resident after the trim: {rss} of {size} KiB");

    // The control socket, the dispatcher, the actors and the output all run on.
    let list = ps(&p);
    assert_eq!((field(&list, "db", "state"), field(&list, "ticker", "state")), (json!("ready"), json!("running")));
    let db_pid = field(&list, "db", "pid");
    let restart = p.corral(&["restart", "-f", "dev.json", "db"]);
    assert_eq!(restart.status, 0, "{}", restart.stderr);
    assert!(wait_until(HANG_GUARD, || {
        let list = ps(&p);
        field(&list, "db", "state") == json!("ready") && field(&list, "db", "pid") != db_pid
    }));
    let logs = p.corral(&["logs", "--config", "dev.json", "-n", "3", "ticker"]);
    assert_eq!(logs.status, 0, "{}", logs.stderr);
    assert_eq!(logs.lines_of("ticker").len(), 3, "{}", logs.stdout);
    assert!(logs.lines_of("ticker").iter().all(|l| l.starts_with("tick ")), "{}", logs.stdout);

    // After that burst, a second trim (at most one per 10 s); still working after it.
    let second = wait_until(HANG_GUARD, || run.stderr().matches(TRIMMED).count() >= 2);
    assert!(second, "no trim after the restart\n{}", run.stderr());
    let ticks = run.stdout().matches("tick ").count();
    assert!(wait_until(HANG_GUARD, || run.stdout().matches("tick ").count() > ticks + 2), "the output stopped");
    assert_eq!(field(&ps(&p), "db", "state"), json!("ready"));

    run.signal(Signal::SIGTERM);
    let done = run.wait();
    assert!(done.stderr.contains("all processes ended"), "{}", done.stderr);
    assert_eq!(done.status, 0, "{}", done.stderr);
    p.assert_nothing_left();
}
