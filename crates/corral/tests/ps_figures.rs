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
    run.wait_for("s | up");
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
    assert!(table.stdout.lines().any(|l| l == "containment: process groups, subreaper and guardian (no writable cgroup v2)"), "{}", table.stdout);
    assert_eq!(ps_json(&p)[0]["containment"], "process_group");
    stop(&p, run);
}
