//! What `corral ps` shows beyond a process's state: the run's containment
//! mode, and each running process's CPU and memory.

mod support;

use serde_json::{json, Value};
use support::{Project, Run};

fn ps_json(p: &Project) -> Vec<Value> {
    let out = p.corral(&["ps", "-f", "dev.json", "--json"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

fn start_sleeper(p: &Project, env: &[(&str, &str)]) -> Run {
    p.config(json!({"name": "figs", "processes": {"s": {"command": "echo up; exec sleep 300"}}}));
    let run = p.start_with(&["up", "-f", "dev.json"], env);
    run.wait_for("| up");
    run
}

fn stop(p: &Project, run: Run) {
    assert_eq!(p.corral(&["down", "-f", "dev.json"]).status, 0);
    assert_eq!(run.wait().status, 0);
    p.assert_nothing_left();
}

/// Root on a machine with a cgroup v2 hierarchy (ours: mounted at /sys/fs/cgroup/unified): corral gives the run a cgroup.
fn cgroup_expected() -> bool {
    let v2 = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default().contains(" - cgroup2 ");
    v2 && nix::unistd::getuid().is_root()
}

#[test]
fn ps_shows_the_cgroup_containment_where_a_cgroup_v2_is_writable() {
    if !cgroup_expected() {
        eprintln!("skipped: not root, or no cgroup v2 hierarchy here (the process-group test covers the fallback)");
        return;
    }
    let p = Project::new();
    let run = start_sleeper(&p, &[]);
    let table = p.corral(&["ps", "-f", "dev.json"]);
    assert_eq!(table.status, 0, "{}", table.stderr);
    assert!(table.stdout.lines().any(|l| l == "containment: a cgroup v2 for the run (every descendant is stopped through it)"), "{}", table.stdout);
    assert_eq!(ps_json(&p)[0]["containment"], "cgroup");
    stop(&p, run);
}

#[test]
fn ps_shows_the_process_group_containment_without_a_cgroup() {
    let p = Project::new();
    let run = start_sleeper(&p, &[("CORRAL_CGROUP", "off")]);
    let table = p.corral(&["ps", "-f", "dev.json"]);
    assert_eq!(table.status, 0, "{}", table.stderr);
    assert!(table.stdout.lines().any(|l| l == "containment: process groups, subreaper and guardian (no cgroup: `corral up -v` says why)"), "{}", table.stdout);
    assert_eq!(ps_json(&p)[0]["containment"], "process_group");
    stop(&p, run);
}

/// `resources` of process `name` in `ps --json`: (cpu percent, memory bytes).
fn figures(p: &Project, name: &str) -> (f64, u64) {
    let list = ps_json(p);
    let entry = list.iter().find(|x| x["name"] == name).unwrap_or_else(|| panic!("{name} in {list:?}"));
    let r = &entry["resources"];
    assert!(r.is_object(), "a running process has resources: {entry}");
    (r["cpu_percent"].as_f64().unwrap(), r["memory_bytes"].as_u64().unwrap())
}

#[test]
fn ps_shows_cpu_and_memory_of_each_process_s_whole_group() {
    let p = Project::new();
    // The work happens in a child of the process's shell: the figures are the group's.
    let hog = "import time; x = bytes(range(256)) * (400 * 1024); print('allocated', flush=True); time.sleep(300)";
    p.config(json!({"name": "figs", "processes": {
        "burner": {"command": "sh -c 'while :; do :; done' & echo burning; wait"},
        "hog": {"command": format!("python3 -c \"{hog}\" & wait")},
        "idle": {"command": "echo idle; exec sleep 300"}
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    run.wait_for("| burning");
    run.wait_for("| allocated");
    run.wait_for("| idle");
    // The first sample measures since each process started; the next, since the first.
    figures(&p, "burner");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let (burner_cpu, _) = figures(&p, "burner");
    let (hog_cpu, hog_mem) = figures(&p, "hog");
    let (idle_cpu, idle_mem) = figures(&p, "idle");
    // Generous bounds: two cores shared with whatever else runs.
    assert!(burner_cpu >= 20.0, "a busy loop uses a core: {burner_cpu}%");
    assert!(idle_cpu < 5.0 && hog_cpu < 20.0, "sleepers do not: idle {idle_cpu}%, hog {hog_cpu}%");
    assert!(hog_mem >= 95 * 1024 * 1024, "100 MiB allocated and written: {hog_mem} bytes");
    assert!(idle_mem < 20 * 1024 * 1024, "a sleep is small: {idle_mem} bytes");

    let table = p.corral(&["ps", "-f", "dev.json"]);
    let header: Vec<&str> = table.stdout.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "STATE", "PID", "UPTIME", "RESTARTS", "EXIT", "READY", "CPU", "MEM", "STATUS"], "{}", table.stdout);
    let (cpu, mem) = (cell(&table.stdout, "hog", "CPU"), cell(&table.stdout, "hog", "MEM"));
    assert!(cpu.ends_with('%') && mem.ends_with('M'), "{}", table.stdout);
    let mib: f64 = mem.trim_end_matches('M').parse().unwrap();
    assert!(mib >= 95.0, "{}", table.stdout);
    stop(&p, run);
}

#[test]
fn ps_of_processes_that_are_not_running_has_no_figures() {
    let p = Project::new();
    p.config(json!({"name": "figs", "processes": {"done": {"command": "true"}, "s": {"command": "echo up; exec sleep 300"}}}));
    let run = p.start(&["up", "-f", "dev.json"]);
    run.wait_for("| up");
    assert!(support::wait_until(support::HANG_GUARD, || ps_json(&p).iter().any(|x| x["name"] == "done" && x["state"] == "completed")));
    let list = ps_json(&p);
    let done = list.iter().find(|x| x["name"] == "done").unwrap();
    assert!(done.get("resources").is_none(), "{done}");
    let table = p.corral(&["ps", "-f", "dev.json"]);
    let figures = [cell(&table.stdout, "done", "CPU"), cell(&table.stdout, "done", "MEM")];
    assert_eq!(figures, ["-", "-"], "CPU and MEM after `status 0`: {}", table.stdout);
    stop(&p, run);
}

#[test]
fn a_follower_that_asks_for_resources_gets_them_once_a_second_until_the_run_ends() {
    use std::io::{BufRead, BufReader, Write};
    let p = Project::new();
    p.config(json!({"name": "figs", "processes": {
        "burner": {"command": "echo burning; while :; do :; done"},
        "done": {"command": "true"}
    }}));
    // The socket's path: corral names it when none runs.
    let none = p.corral(&["ps", "-f", "dev.json"]);
    let sock = none.stderr.split("no socket at ").nth(1).expect(&none.stderr).trim_end().trim_end_matches(')').to_string();
    let run = p.start(&["up", "-f", "dev.json"]);
    run.wait_for("| burning");
    let mut conn = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    conn.set_read_timeout(Some(support::HANG_GUARD)).unwrap();
    conn.write_all(&corral_protocol::Request::new(7, corral_protocol::RequestCommand::Top).to_line()).unwrap();
    let mut lines = BufReader::new(conn.try_clone().unwrap()).lines();
    let mut snapshots = Vec::new();
    while snapshots.len() < 3 {
        let msg: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        assert_eq!(msg["id"], 7, "{msg}");
        assert_eq!(msg["event"]["type"], "snapshot", "{msg}");
        snapshots.push(msg["event"]["processes"].as_array().unwrap().clone());
    }
    for processes in &snapshots[1..] {
        let burner = processes.iter().find(|x| x["name"] == "burner").unwrap();
        let cpu = burner["resources"]["cpu_percent"].as_f64().expect("a running process has figures");
        assert!(cpu >= 20.0, "a busy loop uses a core: {cpu}% in {burner}");
        let done = processes.iter().find(|x| x["name"] == "done").unwrap();
        assert!(done.get("resources").is_none(), "{done}");
    }
    // The run ends, and so does the stream (like `attach`'s: the connection closes).
    let down = p.start(&["down", "-f", "dev.json"]);
    for line in lines {
        let msg: Value = serde_json::from_str(&line.expect("the stream ends, it does not hang")).unwrap();
        if msg.get("ok").is_some() {
            break;
        }
        assert_eq!(msg["event"]["type"], "snapshot", "{msg}");
    }
    assert_eq!(down.wait().status, 0);
    assert_eq!(run.wait().status, 0);
}

/// The cell of `ps`'s table in the row of `name` under `column` (cells may hold
/// spaces, e.g. "no check", so they are found by the header's offsets).
fn cell<'a>(table: &'a str, name: &str, column: &str) -> &'a str {
    let header = table.lines().next().unwrap();
    let at = header.find(&format!("{column} ")).unwrap_or_else(|| panic!("no {column} column: {table}"));
    let row = table.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("no row {name}: {table}"));
    row.get(at..).unwrap_or("").split_whitespace().next().unwrap_or("")
}
