//! The control protocol as a third-party client sees it: typed messages from
//! the `corral-protocol` crate alone (no supervisor, no async runtime), against
//! a real run; and a follower too slow to be sent every state change.

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use corral_protocol::{Client, ErrorCode, Event, ProcessState, Request, RequestCommand, Response, ServerMessage, CallError};
use serde_json::{json, Value};
use support::{wait_until, Project, HANG_GUARD};

/// The control socket of the `proto` project in `p` (corral names it when none runs).
fn socket(p: &Project) -> PathBuf {
    let out = p.corral(&["ps", "-f", "dev.json"]);
    let path = out.stderr.split("no socket at ").nth(1).expect(&out.stderr).trim_end().trim_end_matches(')');
    PathBuf::from(path)
}

fn processes(c: &mut Client) -> Vec<corral_protocol::ProcessInfo> {
    match c.call(RequestCommand::Ps, |_| {}).unwrap() {
        Response::Processes(list) => list,
        other => panic!("ps answered {other:?}"),
    }
}

fn state(c: &mut Client, name: &str) -> ProcessState {
    processes(c).into_iter().find(|p| p.name == name).unwrap().state
}

#[test]
fn a_client_written_against_corral_protocol_alone_drives_a_run() {
    let p = Project::new();
    let base = support::free_port();
    p.config(json!({"name": "proto", "processes": {
        "db": {"command": "echo db ready; exec sleep 300", "ready_log_line": "db ready", "ports": {"main": base}},
        "api": {"command": "echo api up; exec sleep 300", "depends_on": {"db": {"condition": "process_log_ready"}}},
        "once": {"command": "exit 3"}
    }}));
    let sock = socket(&p);
    let run = p.start(&["up", "-f", "dev.json"]);
    assert!(wait_until(HANG_GUARD, || sock.exists()));
    let mut c = Client::connect(&sock).unwrap();
    c.set_timeout(Some(HANG_GUARD));

    match c.call(RequestCommand::Hello, |_| {}).unwrap() {
        Response::Hello(h) => assert_eq!((h.protocol, h.pid), (corral_protocol::VERSION, run.pid() as u32)),
        other => panic!("hello answered {other:?}"),
    }
    // `once` fails, so `wait` reports it: a typed error, not text to match.
    assert!(wait_until(HANG_GUARD, || state(&mut c, "once") == ProcessState::Failed));
    match c.call(RequestCommand::Wait, |_| {}) {
        Err(CallError::Server(e)) => assert_eq!(e.code, ErrorCode::Failed, "{e:?}"),
        other => panic!("wait answered {other:?}"),
    }
    let once = processes(&mut c).into_iter().find(|p| p.name == "once").unwrap();
    assert_eq!((once.state, once.exit), (ProcessState::Failed, Some(corral_protocol::Exit::Code(3))));
    assert!(wait_until(HANG_GUARD, || state(&mut c, "api") == ProcessState::Running));
    let db = processes(&mut c).into_iter().find(|p| p.name == "db").unwrap();
    let port = db.ports.get("main").copied().unwrap_or_else(|| panic!("{db:?}"));
    assert!(port >= base, "allocated from the base upward: {port} < {base}");

    match c.call(RequestCommand::Stop { names: vec!["db".into()] }, |_| {}).unwrap() {
        Response::Stopped { stopped } => assert_eq!(stopped, ["db", "api"]),
        other => panic!("stop answered {other:?}"),
    }
    assert_eq!((state(&mut c, "db"), state(&mut c, "api")), (ProcessState::Stopped, ProcessState::Stopped));
    match c.call(RequestCommand::Start { names: vec!["api".into()] }, |_| {}).unwrap() {
        Response::Started { started } => assert_eq!(started, ["db", "api"]),
        other => panic!("start answered {other:?}"),
    }
    match c.call(RequestCommand::Stop { names: vec!["nope".into()] }, |_| {}) {
        Err(CallError::Server(e)) => assert_eq!(e.code, ErrorCode::UnknownProcess),
        other => panic!("stop nope answered {other:?}"),
    }
    match c.call(RequestCommand::Attach { process: Some("db".into()), window: None }, |_| {}) {
        Err(CallError::Server(e)) => assert_eq!((e.code, e.message.as_str()), (ErrorCode::Failed, "db has no terminal now (it needs is_tty and must be running)")),
        other => panic!("attach to the terminal of a process without one answered {other:?}"),
    }

    // attach from a second client: a state event per process first, then changes, until the run ends.
    let sock2 = sock.clone();
    let follower = std::thread::spawn(move || {
        let mut c = Client::connect(&sock2).unwrap();
        c.set_timeout(Some(HANG_GUARD));
        let mut seen = Vec::new();
        let end = c.call(RequestCommand::attach(), |ev| {
            if let Event::State { process } = ev {
                seen.push((process.name, process.state));
            }
        });
        (end, seen)
    });
    assert!(wait_until(HANG_GUARD, || state(&mut c, "api") == ProcessState::Running));
    std::thread::sleep(std::time::Duration::from_millis(300));
    match c.call(RequestCommand::Down, |_| {}).unwrap() {
        Response::Stopping { stopping } => assert!(stopping),
        other => panic!("down answered {other:?}"),
    }
    c.wait_closed();
    let (end, seen) = follower.join().unwrap();
    assert!(matches!(end, Ok(Response::Done) | Err(CallError::Closed)), "{end:?}");
    assert!(seen.contains(&("api".to_string(), ProcessState::Stopping)), "{seen:?}");
    run.wait();
}

/// The last state of each process a follower would show, from its stream,
/// read until `until` is shown as stopped.
fn replay(r: &mut BufReader<UnixStream>, id: u64, until: &str) -> (HashMap<String, String>, usize) {
    let mut last = HashMap::new();
    let mut snapshots = 0;
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        let msg: ServerMessage = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        assert_eq!(msg.id, id);
        match msg.event {
            Some(Event::State { process }) => {
                last.insert(process.name, process.state.to_string());
            }
            Some(Event::Snapshot { processes }) => {
                snapshots += 1;
                last = processes.into_iter().map(|p| (p.name, p.state.to_string())).collect();
            }
            Some(_) => {}
            None => break,
        }
        if last.get(until).is_some_and(|s| s == "stopped") {
            break;
        }
    }
    (last, snapshots)
}

fn restarts(p: &Project, name: &str) -> u64 {
    let out = p.corral(&["ps", "-f", "dev.json", "--json"]);
    let list: Vec<Value> = serde_json::from_str(&out.stdout).unwrap_or_default();
    list.iter().find(|x| x["name"] == name).map_or(0, |x| x["restarts"].as_u64().unwrap())
}

#[test]
fn a_slow_attach_follower_gets_a_snapshot_instead_of_missing_a_change() {
    let p = Project::new();
    // `flap` crash-loops with long lines: thousands of state changes and megabytes of output.
    p.config(json!({"name": "proto", "processes": {
        "quiet": {"command": "exec sleep 300"},
        "flap": {"command": "head -c 30000 /dev/zero | tr '\\0' x; echo; exit 1", "availability": {"restart": "always", "backoff_seconds": 0.001}}
    }}));
    let sock = socket(&p);
    let run = p.start(&["up", "-f", "dev.json"]);
    assert!(wait_until(HANG_GUARD, || sock.exists()));
    let mut w = UnixStream::connect(&sock).unwrap();
    w.set_read_timeout(Some(HANG_GUARD)).unwrap();
    let mut r = BufReader::new(w.try_clone().unwrap());
    w.write_all(&Request::new(7, RequestCommand::attach()).to_line()).unwrap();
    // The follower reads nothing: its socket fills up, then its queue overflows.
    assert!(wait_until(HANG_GUARD, || restarts(&p, "flap") >= 200));
    // One change of `quiet`, then far more changes of `flap` than a follower's queue holds.
    assert_eq!(p.corral(&["stop", "-f", "dev.json", "quiet"]).status, 0);
    let at_stop = restarts(&p, "flap");
    assert!(wait_until(HANG_GUARD, || restarts(&p, "flap") >= at_stop + 700));
    assert_eq!(p.corral(&["stop", "-f", "dev.json", "flap"]).status, 0);
    // Read before the run ends: what corral has not written when it exits is lost with it.
    let (last, snapshots) = replay(&mut r, 7, "flap");
    assert_eq!(last.get("quiet").map(String::as_str), Some("stopped"), "the follower shows quiet as it is: {last:?}");
    assert_eq!(last.get("flap").map(String::as_str), Some("stopped"), "{last:?}");
    assert!(snapshots > 0, "the follower lagged, so it was sent a snapshot");
    assert_eq!(p.corral(&["down", "-f", "dev.json"]).status, 0);
    run.wait();
}

#[test]
fn ps_answers_during_a_long_pre_hook_and_down_stops_the_run_there() {
    let p = Project::new();
    p.config(json!({"name": "proto", "pre_hook": "echo hooking; sleep 300", "processes": {
        "db": {"command": "exec sleep 300"},
        "api": {"command": "exec sleep 300", "depends_on": {"db": {"condition": "process_started"}}}
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    run.wait_for("pre_hook | hooking");
    let out = p.corral(&["ps", "-f", "dev.json", "--json"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let list: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    let states: Vec<(&str, &str)> = list.iter().map(|x| (x["name"].as_str().unwrap(), x["state"].as_str().unwrap())).collect();
    assert_eq!(states, [("db", "pending"), ("api", "pending")]);
    let table = p.corral(&["ps", "-f", "dev.json"]);
    assert!(table.stdout.contains("pending"), "{}", table.stdout);
    // `down` stops the run in the pre_hook as a signal would: nothing starts, status 0.
    let down = p.corral(&["down", "-f", "dev.json"]);
    assert_eq!(down.status, 0, "{}", down.stderr);
    let end = run.wait();
    assert_eq!(end.status, 0, "{}", end.stderr);
    assert!(!end.stderr.contains("db: started"), "{}", end.stderr);
    p.assert_nothing_left();
}

#[test]
fn requests_made_during_the_pre_hook_are_answered_once_the_processes_run() {
    let p = Project::new();
    p.config(json!({"name": "proto", "pre_hook": "sleep 1", "processes": {
        "db": {"command": "echo db ready; exec sleep 300", "ready_log_line": "db ready"}
    }}));
    let sock = socket(&p);
    let run = p.start(&["up", "-f", "dev.json"]);
    assert!(wait_until(HANG_GUARD, || sock.exists()));
    let mut c = Client::connect(&sock).unwrap();
    c.set_timeout(Some(HANG_GUARD));
    // Sent while the pre_hook runs: wait answers when db is ready.
    match c.call(RequestCommand::Wait, |_| {}) {
        Ok(Response::Ready { ready: true }) => {}
        other => panic!("wait answered {other:?}"),
    }
    assert_eq!(state(&mut c, "db"), ProcessState::Ready);
    c.call(RequestCommand::Down, |_| {}).unwrap();
    c.wait_closed();
    assert_eq!(run.wait().status, 0);
}
