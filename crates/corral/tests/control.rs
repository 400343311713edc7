//! Detached mode and the control socket, against real runs.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::{json, Value};
use support::{wait_until, Project, HANG_GUARD};

fn set() -> Value {
    json!({"name": "ctl", "processes": {
        "db": {"command": "echo db booting; sleep 0.2; echo db ready; exec sleep 300", "ready_log_line": "db ready"},
        "api": {"command": "while true; do echo api tick; sleep 0.1; done", "depends_on": {"db": {"condition": "process_log_ready"}}},
        "job": {"command": "echo job done"}
    }})
}

/// The state directory of the `ctl` project in `p`, as corral computes it.
fn state_dir(p: &Project) -> std::path::PathBuf {
    let out = p.corral(&["ps", "-f", "dev.json"]);
    let marker = "no socket at ";
    let path = out.stderr.split(marker).nth(1).expect(&out.stderr).trim_end_matches(")\n").trim_end_matches(')');
    std::path::Path::new(path).parent().unwrap().to_path_buf()
}

fn ps(p: &Project) -> Vec<Value> {
    let out = p.corral(&["ps", "-f", "dev.json", "--json"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    serde_json::from_str::<Value>(&out.stdout).unwrap().as_array().unwrap().clone()
}

fn state_of(list: &[Value], name: &str) -> String {
    list.iter().find(|p| p["name"] == name).unwrap()["state"].as_str().unwrap().to_string()
}

#[test]
fn detached_lifecycle_end_to_end() {
    let p = Project::new();
    p.config(set());
    let dir = state_dir(&p);
    let up = p.corral(&["up", "-f", "dev.json", "-d", "--wait", "--timeout", "30"]);
    assert_eq!(up.status, 0, "{}", up.stderr);
    assert!(up.stderr.contains("every process of ctl-") && up.stderr.contains("runs in the background"), "{}", up.stderr);
    // A second up of the same project fails clearly.
    let again = p.corral(&["up", "-f", "dev.json", "-d"]);
    assert_eq!(again.status, 1);
    assert!(again.stderr.contains("is already running (corral pid"), "{}", again.stderr);

    let list = ps(&p);
    assert_eq!((state_of(&list, "db").as_str(), state_of(&list, "api").as_str(), state_of(&list, "job").as_str()), ("ready", "running", "completed"));
    let db = list.iter().find(|x| x["name"] == "db").unwrap();
    assert!(db["pid"].as_i64().unwrap() > 0 && db["ready"] == true);
    let table = p.corral(&["ps", "-f", "dev.json"]);
    assert!(table.stdout.starts_with("NAME") && table.stdout.contains("READY"), "{}", table.stdout);

    let logs = p.corral(&["logs", "--config", "dev.json", "-n", "5", "db"]);
    assert_eq!(logs.status, 0, "{}", logs.stderr);
    assert_eq!(logs.lines_of("db"), ["db booting", "db ready"]);

    // stop db: api (its dependent) stops first; both stay stopped.
    let stop = p.corral(&["stop", "-f", "dev.json", "db"]);
    assert_eq!(stop.status, 0, "{}", stop.stderr);
    assert!(stop.stderr.contains("stopped: db, api"), "{}", stop.stderr);
    let list = ps(&p);
    assert_eq!((state_of(&list, "db").as_str(), state_of(&list, "api").as_str()), ("stopped", "stopped"));
    // start api: db (its dependency) comes first.
    let start = p.corral(&["start", "-f", "dev.json", "api"]);
    assert!(start.stderr.contains("started: db, api"), "{}", start.stderr);
    assert_eq!(p.corral(&["wait", "-f", "dev.json", "--timeout", "30"]).status, 0);
    // restart db alone: api keeps running (same pid).
    let api_pid = ps(&p).iter().find(|x| x["name"] == "api").unwrap()["pid"].clone();
    let restart = p.corral(&["restart", "-f", "dev.json", "db"]);
    assert_eq!(restart.status, 0, "{}", restart.stderr);
    assert!(wait_until(HANG_GUARD, || state_of(&ps(&p), "db") == "ready"));
    assert_eq!(ps(&p).iter().find(|x| x["name"] == "api").unwrap()["pid"], api_pid);
    assert_eq!(p.corral(&["stop", "-f", "dev.json", "nope"]).stderr.contains("unknown process \"nope\""), true);

    let down = p.corral(&["down", "-f", "dev.json"]);
    assert_eq!(down.status, 0, "{}", down.stderr);
    p.assert_nothing_left();
    let gone = p.corral(&["ps", "-f", "dev.json"]);
    assert_eq!(gone.status, 3, "no corral running: 3 (docs/exit-status.md)");
    assert!(gone.stderr.contains("no corral is running for project ctl-"), "{}", gone.stderr);
    let output = std::fs::read_to_string(dir.join("output.log")).unwrap();
    let labelled: Vec<(String, String)> = output.lines().filter_map(|l| l.split_once(" | ")).map(|(n, t)| (n.trim().to_string(), t.to_string())).collect();
    assert!(labelled.contains(&("db".into(), "db ready".into())) && labelled.contains(&("job".into(), "job done".into())), "{output}");
}

#[test]
fn client_commands_work_against_a_foreground_up() {
    let p = Project::new();
    p.config(set());
    let run = p.start(&["up", "-f", "dev.json"]);
    run.wait_for("api | api tick");
    let list = ps(&p);
    assert_eq!(state_of(&list, "db"), "ready");
    let down = p.corral(&["down", "-f", "dev.json"]);
    assert_eq!(down.status, 0, "{}", down.stderr);
    let f = run.wait();
    assert_eq!(f.status, 0, "down is a requested stop: {}", f.stderr);
    assert!(f.stderr.contains("down requested"), "{}", f.stderr);
}

#[test]
fn stopping_everything_on_request_keeps_the_run_until_started_or_down() {
    let p = Project::new();
    p.config(json!({"name": "ctl", "processes": {"only": {"command": "echo run >> runs.log; exec sleep 300"}}}));
    let run = p.start(&["up", "-f", "dev.json"]);
    assert!(wait_until(HANG_GUARD, || p.lines("runs.log").len() == 1));
    assert_eq!(p.corral(&["stop", "-f", "dev.json", "only"]).status, 0);
    std::thread::sleep(Duration::from_millis(300));
    assert!(run.child.id() > 0 && support::is_live(run.pid()), "the run goes on while a process is held stopped");
    assert_eq!(p.corral(&["start", "-f", "dev.json", "only"]).status, 0);
    assert!(wait_until(HANG_GUARD, || p.lines("runs.log").len() == 2));
    run.signal(Signal::SIGTERM);
    assert_eq!(run.wait().status, 0);
}

#[test]
fn two_clients_follow_logs_while_a_third_asks_ps() {
    let p = Project::new();
    p.config(set());
    let run = p.start(&["up", "-f", "dev.json"]);
    run.wait_for("api | api tick");
    let f1 = p.start(&["logs", "--config", "dev.json", "-f", "-n", "0", "api"]);
    let f2 = p.start(&["logs", "--config", "dev.json", "-f", "-n", "1"]);
    assert_eq!(ps(&p).len(), 3);
    assert!(wait_until(HANG_GUARD, || f1.stdout().matches("api | api tick").count() >= 3), "{}", f1.stderr());
    assert!(wait_until(HANG_GUARD, || f2.stdout().matches("api | api tick").count() >= 3), "{}", f2.stderr());
    assert!(!f1.stdout().contains("db |"), "only the named process");
    p.corral(&["down", "-f", "dev.json"]);
    assert_eq!(run.wait().status, 0);
    // The followers end when the run does.
    assert_eq!(f1.wait().status, 0);
    assert_eq!(f2.wait().status, 0);
}

/// A raw connection, to send what no well-behaved client would.
fn raw(path: &std::path::Path) -> (UnixStream, BufReader<UnixStream>) {
    let s = UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(HANG_GUARD)).unwrap();
    let r = BufReader::new(s.try_clone().unwrap());
    (s, r)
}

fn reply(r: &mut BufReader<UnixStream>) -> Value {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
}

#[test]
fn garbage_huge_and_unknown_requests_get_errors_and_the_server_keeps_serving() {
    let p = Project::new();
    p.config(set());
    let dir = state_dir(&p);
    let run = p.start(&["up", "-f", "dev.json"]);
    run.wait_for("api | api tick");
    let sock = dir.join("control.sock");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&sock).unwrap().permissions()) & 0o777;
    assert_eq!(mode, 0o600);
    let dmode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&dir).unwrap().permissions()) & 0o777;
    assert_eq!(dmode, 0o700);

    let (mut w, mut r) = raw(&sock);
    w.write_all(b"this is not json\n").unwrap();
    assert_eq!(reply(&mut r)["error"]["code"], "bad_request");
    w.write_all(b"{\"v\":1,\"id\":7,\"command\":\"self_destruct\"}\n").unwrap();
    let e = reply(&mut r);
    assert_eq!((e["id"].as_u64(), e["error"]["code"].as_str()), (Some(7), Some("bad_request")));
    w.write_all(b"{\"v\":9,\"id\":8,\"command\":\"ps\"}\n").unwrap();
    assert_eq!(reply(&mut r)["error"]["code"], "unsupported_version");
    w.write_all(b"{\"v\":1,\"id\":9,\"command\":\"ps\"}\n").unwrap();
    let ok = reply(&mut r);
    assert_eq!((ok["id"].as_u64(), ok["ok"].as_bool()), (Some(9), Some(true)), "the same connection still works");

    // A 10 MB line: an error, and this connection is closed; others are unaffected.
    let (mut w2, mut r2) = raw(&sock);
    let big = vec![b'x'; 10 * 1024 * 1024];
    let writer = std::thread::spawn(move || {
        let _ = w2.write_all(&big);
        let _ = w2.write_all(b"\n");
    });
    assert_eq!(reply(&mut r2)["error"]["code"], "too_large");
    let _ = writer.join();
    assert_eq!(ps(&p).len(), 3, "the server still answers ps");

    p.corral(&["down", "-f", "dev.json"]);
    assert_eq!(run.wait().status, 0);
}

#[test]
fn a_connection_from_another_uid_is_refused() {
    if nix::unistd::getuid().as_raw() != 0 {
        eprintln!("SKIPPED a_connection_from_another_uid_is_refused: needs root to act as another user");
        return;
    }
    let p = Project::new();
    p.config(set());
    let dir = state_dir(&p);
    let run = p.start(&["up", "-f", "dev.json"]);
    run.wait_for("api | api tick");
    // Open the way on purpose, so only the server's peer-uid check stands in between.
    use std::os::unix::fs::PermissionsExt;
    for d in [dir.parent().unwrap(), dir.as_path()] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(dir.join("control.sock"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let script = format!(
        // The refusal comes unprompted, before any request.
        "import socket; s=socket.socket(socket.AF_UNIX); s.connect({:?}); print(s.makefile().readline().strip())",
        dir.join("control.sock").to_str().unwrap()
    );
    let out = std::process::Command::new("setpriv").args(["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", &script]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("permission_denied"), "stdout {text:?}, stderr {}", String::from_utf8_lossy(&out.stderr));
    assert!(!text.contains("\"ok\":true"));
    assert_eq!(ps(&p).len(), 3, "its owner is still served");
    p.corral(&["down", "-f", "dev.json"]);
    run.wait();
}

#[test]
fn stale_state_after_kill_9_is_recovered() {
    let p = Project::new();
    p.config(set());
    assert_eq!(p.corral(&["up", "-f", "dev.json", "-d", "--wait"]).status, 0);
    assert!(!ps(&p).is_empty());
    let dir = p.state_dir("ctl");
    let pid: i32 = std::fs::read_to_string(dir.join("lock")).unwrap().trim().parse().unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    assert!(wait_until(HANG_GUARD, || !support::is_live(pid)));
    p.assert_nothing_left(); // the guardian cleaned up the processes
    let ps = p.corral(&["ps", "-f", "dev.json"]);
    assert_eq!(ps.status, 3, "no corral running (docs/exit-status.md)");
    assert!(ps.stderr.contains("was left by a corral that ended without cleaning up"), "{}", ps.stderr);
    let again = p.corral(&["up", "-f", "dev.json", "-d", "--wait"]);
    assert_eq!(again.status, 0, "the stale socket and lock are no obstacle: {}", again.stderr);
    assert_eq!(p.corral(&["down", "-f", "dev.json"]).status, 0);
}

#[test]
fn wait_fails_when_a_dependency_fails() {
    let p = Project::new();
    p.config(json!({"name": "ctl", "processes": {
        "init": {"command": "sleep 0.3; exit 1"},
        "api": {"command": "sleep 300", "depends_on": {"init": {"condition": "process_completed_successfully"}}},
        "other": {"command": "sleep 300"}
    }}));
    let up = p.corral(&["up", "-f", "dev.json", "-d", "--wait", "--timeout", "30"]);
    assert_eq!(up.status, 1, "{}", up.stderr);
    assert!(up.stderr.contains("init failed: exited with status 1"), "{}", up.stderr);
    let w = p.corral(&["wait", "-f", "dev.json", "--timeout", "30"]);
    assert_eq!(w.status, 1);
    assert!(w.stderr.contains("init failed"), "{}", w.stderr);
    assert_eq!(p.corral(&["down", "-f", "dev.json"]).status, 0);
}

#[test]
fn wait_times_out_with_a_non_zero_status() {
    let p = Project::new();
    p.config(json!({"name": "ctl", "processes": {"slow": {"command": "sleep 300", "ready_log_line": "never"}}}));
    let run = p.start(&["up", "-f", "dev.json"]);
    run.wait_for_stderr_hint();
    let w = p.corral(&["wait", "-f", "dev.json", "--timeout", "0.5"]);
    assert_eq!(w.status, 1);
    assert!(w.stderr.contains("not every process was ready after 0.5s"), "{}", w.stderr);
    p.corral(&["down", "-f", "dev.json"]);
    run.wait();
}

#[test]
fn attach_streams_state_changes_and_output() {
    let p = Project::new();
    p.config(set());
    let run = p.start(&["up", "-f", "dev.json"]);
    run.wait_for("api | api tick");
    let attach = p.start(&["attach", "-f", "dev.json"]);
    assert!(wait_until(HANG_GUARD, || attach.stderr().contains("corral: db: ready")), "{}", attach.stderr());
    assert!(wait_until(HANG_GUARD, || attach.stdout().contains("api | api tick")));
    p.corral(&["restart", "-f", "dev.json", "db"]);
    assert!(wait_until(HANG_GUARD, || attach.stderr().contains("corral: db: stopping")), "{}", attach.stderr());
    p.corral(&["down", "-f", "dev.json"]);
    assert_eq!(run.wait().status, 0);
    assert_eq!(attach.wait().status, 0);
}

#[test]
fn logs_beyond_the_ring_come_from_the_process_s_log_file() {
    let p = Project::new();
    // 20,000 lines of about 100 bytes: 2 MB, far more than the 256 KiB ring keeps.
    p.config(json!({"name": "ctl", "processes": {
        "big": {"command": "seq -f 'line %g ......................................................................................' 1 20000; echo done; exec sleep 300", "log_location": "big.log"}
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    run.wait_for("big | done");
    let logs = p.corral(&["logs", "--config", "dev.json", "-n", "15000", "big"]);
    assert_eq!(logs.status, 0, "{}", logs.stderr);
    let lines = logs.lines_of("big");
    assert_eq!(lines.len(), 15000);
    assert!(lines[0].starts_with("line 5002 ") && lines[14998].starts_with("line 20000 ") && lines[14999] == "done", "{:?} … {:?}", &lines[0], &lines[14998..]);
    p.corral(&["down", "-f", "dev.json"]);
    assert_eq!(run.wait().status, 0);
}

#[test]
fn ps_shows_the_sd_notify_status_text() {
    let p = Project::new();
    p.config(json!({"name": "ctl", "processes": {
        "svc": {"command": "python3 -c 'import os,socket; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b\"READY=1\\nSTATUS=serving 3 clients\", os.environ[\"NOTIFY_SOCKET\"])'; exec sleep 300", "ready_notify": true}
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    assert!(wait_until(HANG_GUARD, || run.stderr().contains("svc: ready")), "{}", run.stderr());
    let svc = ps(&p).into_iter().find(|x| x["name"] == "svc").unwrap();
    assert_eq!((svc["status"].as_str(), svc["ready"].as_bool()), (Some("serving 3 clients"), Some(true)));
    let table = p.corral(&["ps", "-f", "dev.json"]);
    assert!(table.stdout.contains("serving 3 clients"), "{}", table.stdout);
    p.corral(&["down", "-f", "dev.json"]);
    assert_eq!(run.wait().status, 0);
}
