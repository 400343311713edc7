//! Readiness and liveness probes against real servers and processes.

mod support;

use nix::sys::signal::Signal;
use serde_json::json;
use support::{free_port, index_of, Project, HTTP_SERVER};

#[test]
fn http_readiness_gates_a_dependent_until_the_server_is_healthy() {
    let p = Project::new();
    p.write("server.py", HTTP_SERVER);
    let port = free_port();
    p.config(json!({"processes": {
        "web": {
            "command": format!("python3 server.py {port} & sleep 0.5; touch healthy; wait"),
            "readiness_probe": {"http_get": {"port": port, "path": "/health"}, "period_seconds": 0.1, "failure_threshold": 100}
        },
        "api": {"command": "echo api sees healthy=$(test -f healthy && echo yes)", "depends_on": {"web": {"condition": "process_healthy"}}, "availability": {"exit_on_end": true}}
    }}));
    let f = p.up(&[]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert_eq!(f.lines_of("api"), ["api sees healthy=yes"]);
    assert!(index_of(&f.stderr, "web: ready") < index_of(&f.stderr, "api: started"));
    assert!(p.lines("requests.log").iter().all(|l| l == "/health"), "probe used the configured path");
    assert!(p.lines("requests.log").len() >= 2, "503s were retried until 200");
}

#[test]
fn http_headers_and_status_code_are_honoured() {
    let p = Project::new();
    p.write("server.py", HTTP_SERVER);
    let (good, bad) = (free_port(), free_port());
    // Room for Python to start on a loaded machine: 40 checks, 100 ms apart.
    let probe = |port: u16, token: &str| json!({"http_get": {"port": port, "path": "/token", "headers": {"X-Token": token}, "status_code": 204}, "period_seconds": 0.1, "failure_threshold": 40});
    p.config(json!({"processes": {
        "good": {"command": format!("exec python3 server.py {good}"), "readiness_probe": probe(good, "secret")},
        "bad": {"command": format!("mkdir -p b && cd b && exec python3 ../server.py {bad}"), "readiness_probe": probe(bad, "wrong")},
        "after_good": {"command": "echo ok", "depends_on": {"good": {"condition": "process_healthy"}}},
        "after_bad": {"command": "echo never", "depends_on": {"bad": {"condition": "process_healthy"}}}
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    run.wait_for("after_good | ok");
    assert!(support::wait_until(support::HANG_GUARD, || run.stderr().contains("after_bad: skipped")), "{}", run.stderr());
    run.signal(Signal::SIGTERM);
    let f = run.wait();
    assert!(f.stderr.contains("bad: not ready (readiness probe: 40 failed check(s) in a row, last: GET /token answered 401)"), "{}", f.stderr);
    assert!(f.stderr.contains("after_bad: skipped: dependency bad exited"), "{}", f.stderr);
    assert!(!f.stdout.contains("never"));
}

#[test]
fn exec_probe_runs_in_the_process_environment() {
    let p = Project::new();
    p.config(json!({"processes": {
        "db": {
            "command": "sleep 0.3; touch \"$FLAG\"; sleep 300",
            "environment": ["FLAG=db.ready"],
            "readiness_probe": {"exec": {"command": "test -f \"$FLAG\""}, "period_seconds": 0.05, "failure_threshold": 1000}
        },
        "app": {"command": "test -f db.ready && echo db was ready", "depends_on": {"db": {"condition": "process_healthy"}}, "availability": {"exit_on_end": true}}
    }}));
    let f = p.up(&[]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert_eq!(f.lines_of("app"), ["db was ready"]);
}

#[test]
fn tcp_socket_probe() {
    let p = Project::new();
    let port = free_port();
    p.config(json!({"processes": {
        "listener": {
            "command": format!("sleep 0.3; exec python3 -c 'import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((\"127.0.0.1\", {port})); s.listen(); time.sleep(300)'"),
            "readiness_probe": {"tcp_socket": {"port": port}, "period_seconds": 0.05, "failure_threshold": 1000}
        },
        "client": {"command": "echo connected", "depends_on": {"listener": {"condition": "process_healthy"}}, "availability": {"exit_on_end": true}}
    }}));
    let f = p.up(&[]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert!(index_of(&f.stderr, "listener: ready") < index_of(&f.stderr, "client: started"));
}

#[test]
fn success_threshold_needs_consecutive_successes() {
    let p = Project::new();
    p.config(json!({"processes": {
        "svc": {"command": "sleep 300", "readiness_probe": {"exec": {"command": "echo x >> probes.log"}, "period_seconds": 0.05, "success_threshold": 4}},
        "after": {"command": "wc -l < probes.log", "depends_on": {"svc": {"condition": "process_healthy"}}, "availability": {"exit_on_end": true}}
    }}));
    let f = p.up(&[]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    let count: usize = f.lines_of("after")[0].trim().parse().unwrap();
    assert!(count >= 4, "ready after {count} checks, success_threshold is 4");
}

#[test]
fn failure_threshold_and_initial_delay_are_honoured() {
    let p = Project::new();
    p.config(json!({"processes": {
        "svc": {
            "command": "date +%s.%N > started; sleep 300",
            "readiness_probe": {"exec": {"command": "date +%s.%N >> probes.log; false"}, "initial_delay_seconds": 0.5, "period_seconds": 0.05, "failure_threshold": 3}
        }
    }}));
    let f = p.up(&[]);
    assert_eq!(f.status, 1, "not ready with restart no: failed");
    assert!(f.stderr.contains("svc: not ready (readiness probe: 3 failed check(s) in a row"), "{}", f.stderr);
    let probes: Vec<f64> = p.lines("probes.log").iter().map(|l| l.parse().unwrap()).collect();
    assert_eq!(probes.len(), 3, "exactly failure_threshold checks before the verdict");
    let started: f64 = p.read("started").trim().parse().unwrap();
    assert!(probes[0] - started >= 0.45, "first check {:.3}s after start, initial_delay is 0.5", probes[0] - started);
}

#[test]
fn a_hanging_exec_probe_is_killed_at_its_timeout_with_its_group() {
    let p = Project::new();
    p.config(json!({"processes": {
        "svc": {
            "command": "echo up; sleep 300",
            "readiness_probe": {"exec": {"command": "sleep 301 & sleep 302"}, "timeout_seconds": 0.3, "period_seconds": 0.1, "failure_threshold": 2}
        },
        "keeper": {"command": "sleep 300"}
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    assert!(support::wait_until(support::HANG_GUARD, || run.stderr().contains("svc: not ready")), "{}", run.stderr());
    assert!(run.stderr().contains("exec probe timed out after 300ms; its process group was killed"), "{}", run.stderr());
    // corral is still running (keeper): the probe's processes must already be gone.
    let probe_left = || p.survivors().into_iter().filter(|s| s.contains("sleep 301") || s.contains("sleep 302")).collect::<Vec<_>>();
    assert!(support::wait_until(std::time::Duration::from_secs(5), || probe_left().is_empty()), "{:?}", probe_left());
    run.signal(Signal::SIGTERM);
    run.wait();
    p.assert_nothing_left();
}

#[test]
fn liveness_failure_restarts_a_plain_process() {
    let p = Project::new();
    p.config(json!({"processes": {
        "worker": {
            // Each run records itself; only the first run is healthy for a while, then wedges.
            "command": "echo run >> runs.log; echo started; sleep 300",
            "liveness_probe": {"exec": {"command": "test $(wc -l < runs.log) -ge 2"}, "period_seconds": 0.05, "failure_threshold": 2},
            "availability": {"backoff_seconds": 0.1}
        }
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    assert!(support::wait_until(support::HANG_GUARD, || p.lines("runs.log").len() >= 2), "{}", run.stderr());
    run.signal(Signal::SIGTERM);
    let f = run.wait();
    assert_eq!(f.status, 0);
    assert!(f.stderr.contains("worker: not alive (liveness probe: 2 failed check(s) in a row"), "{}", f.stderr);
    assert!(f.stderr.contains("worker: restarting in 100ms"), "{}", f.stderr);
    assert_eq!(p.lines("runs.log").len(), 2, "restarted once, then healthy");
    p.assert_nothing_left();
}

#[test]
fn readiness_failure_after_ready_applies_the_restart_policy() {
    let p = Project::new();
    // Ready while `ok` exists; the test removes readiness by creating `drop`.
    p.config(json!({"processes": {
        "flaky": {
            "command": "echo run >> runs.log; touch ok; while [ ! -f drop ]; do sleep 0.05; done; rm -f ok drop; sleep 300",
            "readiness_probe": {"exec": {"command": "test -f ok"}, "initial_delay_seconds": 0.3, "period_seconds": 0.05, "failure_threshold": 10},
            "availability": {"restart": "on_failure", "backoff_seconds": 0.1, "max_restarts": 1}
        }
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    for n in 1..=2 {
        assert!(support::wait_until(support::HANG_GUARD, || run.stderr().matches("flaky: ready").count() >= n), "{}", run.stderr());
        p.write("drop", "");
    }
    let f = run.wait();
    assert_eq!(f.status, 1, "gave up after max_restarts");
    assert_eq!(p.lines("runs.log").len(), 2);
    assert!(f.stderr.contains("flaky: failed: gave up after 1 restart(s) in a row; last: not ready"), "{}", f.stderr);
}
