//! sd_notify, the watchdog, the s6 readiness fd, socket activation and port
//! allocation, with real clients written in Python (the protocol is a datagram
//! and a few environment variables; Python's socket module speaks it natively).

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::json;
use support::{free_port, index_of, wait_until, Project, HANG_GUARD};

/// `python3 notify.py MESSAGE…`: sends each argument as one datagram to $NOTIFY_SOCKET,
/// with a pause of $PAUSE seconds before each, then sleeps.
const NOTIFY: &str = r#"
import os, socket, sys, time
addr = os.environ["NOTIFY_SOCKET"]
print("pids", os.environ.get("WATCHDOG_PID"), os.getpid(), "usec", os.environ.get("WATCHDOG_USEC"), flush=True)
for msg in sys.argv[1:]:
    time.sleep(float(os.environ.get("PAUSE", "0.1")))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.sendto(msg.encode().decode("unicode_escape").encode(), addr)
    s.close()
time.sleep(300)
"#;

/// `python3 serve.py`: accepts connections on the socket passed at fd 3 and answers
/// each with `run N: <what it received>`; exits after $CONNS connections.
const SERVE: &str = r#"
import os, socket
print("listen", os.environ.get("LISTEN_FDS"), os.environ.get("LISTEN_PID"), os.getpid(), os.environ.get("LISTEN_FDNAMES"), flush=True)
with open("runs.log", "a") as f: f.write("run\n")
run = sum(1 for _ in open("runs.log"))
s = socket.socket(fileno=3)
for _ in range(int(os.environ.get("CONNS", "1"))):
    c, _ = s.accept()
    c.sendall(b"run %d: " % run + c.recv(100))
    c.close()
"#;

fn ask(port: u16, msg: &str) -> String {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(HANG_GUARD)).unwrap();
    c.write_all(msg.as_bytes()).unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn notify_readiness_gates_a_dependent_and_status_is_logged() {
    let p = Project::new();
    p.write("notify.py", NOTIFY);
    p.config(json!({"processes": {
        "db": {"command": "exec python3 notify.py 'STATUS=warming up' 'READY=1\\nSTATUS=accepting connections'", "ready_notify": true, "environment": ["PAUSE=0.3"]},
        "api": {"command": "echo api up", "depends_on": {"db": {"condition": "process_healthy"}}, "availability": {"exit_on_end": true}}
    }}));
    let f = p.up(&[]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert!(f.stderr.contains("db: status: warming up"), "{}", f.stderr);
    assert!(index_of(&f.stderr, "db: status: warming up") < index_of(&f.stderr, "db: ready"));
    assert!(index_of(&f.stderr, "db: ready") < index_of(&f.stderr, "api: started"));
}

#[test]
fn notify_socket_is_corral_s_own_not_an_inherited_one() {
    let p = Project::new();
    p.config(json!({"processes": {
        "n": {"command": "echo \"$NOTIFY_SOCKET\"; python3 -c 'import os,socket; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b\"READY=1\", os.environ[\"NOTIFY_SOCKET\"])'; sleep 300", "ready_notify": true},
        "after": {"command": "true", "depends_on": {"n": {"condition": "process_healthy"}}, "availability": {"exit_on_end": true}}
    }}));
    let f = p.start_with(&["up", "-f", "dev.json"], &[("NOTIFY_SOCKET", "/run/systemd/notify"), ("XDG_RUNTIME_DIR", p.path().to_str().unwrap())]).wait();
    assert_eq!(f.status, 0, "{}", f.stderr);
    let path = f.lines_of("n")[0].to_string();
    assert!(path.starts_with(p.path().to_str().unwrap()) && path.ends_with(".sock"), "{path}");
    assert!(!std::path::Path::new(&path).exists(), "the runtime directory is removed at the end");
}

#[test]
fn s6_readiness_fd_gates_a_dependent() {
    let p = Project::new();
    p.config(json!({"processes": {
        "s6": {"command": "sleep 0.3; echo >&5; echo told; sleep 300", "ready_fd": 5},
        "after": {"command": "echo after", "depends_on": {"s6": {"condition": "process_healthy"}}, "availability": {"exit_on_end": true}}
    }}));
    let f = p.up(&[]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert!(index_of(&f.stderr, "s6: ready") < index_of(&f.stderr, "after: started"));
}

#[test]
fn a_silent_watchdog_process_is_aborted_and_restarted() {
    let p = Project::new();
    p.write("notify.py", NOTIFY);
    p.config(json!({"processes": {
        "wd": {
            "command": "echo run >> runs.log; exec python3 notify.py READY=1 WATCHDOG=1 WATCHDOG=1",
            "ready_notify": true,
            "environment": {"PAUSE": "0.1", "OWN": "its own environment"},
            "watchdog": {"timeout_seconds": 0.5},
            "availability": {"restart": "on_failure", "backoff_seconds": 0.1}
        }
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    assert!(wait_until(HANG_GUARD, || p.lines("runs.log").len() >= 2), "{}", run.stderr());
    run.signal(Signal::SIGTERM);
    let f = run.wait();
    assert!(f.stderr.contains("wd: watchdog expired (no WATCHDOG=1 within 500ms)"), "{}", f.stderr);
    assert!(f.stderr.contains("wd: exited with signal SIGABRT"), "{}", f.stderr);
    // WATCHDOG_PID is the process's own pid, even though it has an environment of its own.
    for line in f.lines_of("wd").iter().filter(|l| l.starts_with("pids")) {
        let w: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(w[1], w[2], "WATCHDOG_PID must be the child's pid: {line}");
        assert_eq!(w[4], "500000", "WATCHDOG_USEC: {line}");
    }
    p.assert_nothing_left();
}

#[test]
fn watchdog_trigger_fails_the_process_at_once() {
    let p = Project::new();
    p.write("notify.py", NOTIFY);
    p.config(json!({"processes": {
        "t": {"command": "exec python3 notify.py READY=1 WATCHDOG=trigger", "ready_notify": true, "watchdog": {"timeout_seconds": 60}}
    }}));
    let f = p.up(&[]);
    assert_eq!(f.status, 1, "{}", f.stderr);
    assert!(f.stderr.contains("t: watchdog expired (the process sent WATCHDOG=trigger)"), "{}", f.stderr);
}

#[test]
fn datagrams_from_outside_the_process_group_are_ignored() {
    let p = Project::new();
    p.config(json!({"processes": {
        "quiet": {"command": "echo \"$NOTIFY_SOCKET\" > sock.path; sleep 300", "ready_notify": true},
        "after": {"command": "echo should not start", "depends_on": {"quiet": {"condition": "process_healthy"}}}
    }}));
    let run = p.start(&["up", "-v", "-f", "dev.json"]);
    assert!(wait_until(HANG_GUARD, || p.read("sock.path").ends_with('\n')));
    // A process outside quiet's group (this test) claims readiness on its socket.
    let path = p.read("sock.path").trim().to_string();
    let sock = std::os::unix::net::UnixDatagram::unbound().unwrap();
    sock.send_to(b"READY=1", &path).unwrap();
    assert!(wait_until(HANG_GUARD, || run.stderr().contains("ignored a datagram from pid")), "{}", run.stderr());
    std::thread::sleep(Duration::from_millis(200));
    assert!(!run.stderr().contains("quiet: ready") && !run.stdout().contains("should not start"), "{}", run.stderr());
    run.signal(Signal::SIGTERM);
    assert_eq!(run.wait().status, 0);
}

#[test]
fn socket_activation_answers_a_connection_made_before_the_server_started_and_keeps_it_across_restarts() {
    let p = Project::new();
    p.write("serve.py", SERVE);
    let port = free_port();
    p.config(json!({"processes": {
        "gate": {"command": "while [ ! -f go ]; do sleep 0.05; done"},
        "srv": {
            "command": "exec python3 serve.py",
            "environment": ["OWN=1"],
            "listen": [{"name": "http", "tcp": format!("127.0.0.1:{port}")}],
            "depends_on": {"gate": {"condition": "process_completed_successfully"}},
            "availability": {"restart": "always", "backoff_seconds": 0.1}
        }
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    // corral binds before anything starts (so before the gate); the server itself waits for the gate.
    assert!(wait_until(HANG_GUARD, || run.stderr().contains("gate: started")), "{}", run.stderr());
    let early = std::thread::spawn(move || ask(port, "early"));
    std::thread::sleep(Duration::from_millis(300));
    assert!(!run.stderr().contains("srv: started"), "the server must not have started yet");
    p.write("go", "");
    assert_eq!(early.join().unwrap(), "run 1: early", "the connection made before the start was answered");
    // The server exits after one connection and is restarted: the listener stays.
    assert_eq!(ask(port, "later"), "run 2: later");
    run.signal(Signal::SIGTERM);
    let f = run.wait();
    for line in f.lines_of("srv").iter().filter(|l| l.starts_with("listen")) {
        let w: Vec<&str> = line.split_whitespace().collect();
        assert_eq!((w[1], w[4]), ("1", "http"), "LISTEN_FDS and LISTEN_FDNAMES: {line}");
        assert_eq!(w[2], w[3], "LISTEN_PID must be the child's pid: {line}");
    }
}

#[test]
fn unix_and_udp_listeners_with_names_in_order() {
    let p = Project::new();
    let udp = free_port();
    p.config(json!({"processes": {
        "multi": {
            "command": "echo \"$LISTEN_FDS $LISTEN_FDNAMES\"; stat -c %a ctl.sock; ls -l /proc/$$/fd/3 /proc/$$/fd/4 | grep -c socket",
            "listen": [{"name": "ctl", "unix_stream": "ctl.sock", "mode": "0600"}, {"name": "dns", "udp": format!("127.0.0.1:{udp}")}],
            "availability": {"exit_on_end": true}
        }
    }}));
    let f = p.up(&[]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert_eq!(f.lines_of("multi"), ["2 ctl:dns", "600", "2"]);
    assert!(!p.file("ctl.sock").exists(), "the socket file is removed at the end");
}

#[test]
fn a_busy_base_port_moves_to_the_next_and_every_process_sees_it() {
    let p = Project::new();
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = holder.local_addr().unwrap().port();
    p.config(json!({"processes": {
        "web": {"command": "echo web port $CORRAL_PORT_WEB_HTTP", "ports": {"http": base}},
        "client": {"command": "echo client sees $CORRAL_PORT_WEB_HTTP", "readiness_probe": {"exec": {"command": "test -n \"$CORRAL_PORT_WEB_HTTP\""}, "period_seconds": 0.1}}
    }}));
    let f = p.up(&[]);
    let got: u16 = f.lines_of("web")[0].rsplit(' ').next().unwrap().parse().unwrap();
    assert!(got > base, "{base} is taken, got {got}");
    assert_eq!(f.lines_of("client"), [format!("client sees {got}")]);
    assert!(f.stderr.contains(&format!("ports: CORRAL_PORT_WEB_HTTP={got}")), "{}", f.stderr);
    p.config(json!({"strict_ports": true, "pre_hook": "touch started", "processes": {"web": {"command": "true", "ports": {"http": base}}}}));
    let f = p.up(&[]);
    assert_eq!(f.status, 2, "{}", f.stderr);
    assert!(f.stderr.contains(&format!("processes.web.ports.http: port {base} is in use and strict_ports is set; nothing was started")), "{}", f.stderr);
    drop(holder);
}

#[test]
fn a_process_with_ports_gets_a_tcp_readiness_check_and_probes_can_name_ports() {
    let p = Project::new();
    p.write("server.py", support::HTTP_SERVER);
    p.write("healthy", "");
    let base = free_port();
    p.config(json!({"processes": {
        "implicit": {"command": "sleep 0.3; exec python3 server.py $CORRAL_PORT_IMPLICIT_HTTP", "ports": {"http": base}},
        "named": {
            "command": "mkdir -p n && cp healthy n/ && cd n && exec python3 ../server.py $CORRAL_PORT_NAMED_API",
            "ports": {"api": base + 50},
            "readiness_probe": {"http_get": {"port": "api", "path": "/"}, "period_seconds": 0.1, "failure_threshold": 100}
        },
        "after": {"command": "echo both ready", "depends_on": {"implicit": {"condition": "process_healthy"}, "named": {"condition": "process_healthy"}}, "availability": {"exit_on_end": true}}
    }}));
    let f = p.up(&[]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert!(index_of(&f.stderr, "implicit: ready") < index_of(&f.stderr, "after: started"));
    assert!(index_of(&f.stderr, "named: ready") < index_of(&f.stderr, "after: started"));
}

#[test]
fn bad_activation_input_is_a_clear_error_before_anything_starts() {
    let p = Project::new();
    let long = format!("{}/s.sock", "d".repeat(120));
    std::fs::create_dir_all(p.file(&long).parent().unwrap()).unwrap();
    p.config(json!({"processes": {"a": {"command": "touch started", "listen": [{"name": "x", "unix_stream": long}]}}}));
    let f = p.up(&[]);
    assert_eq!(f.status, 2);
    assert!(f.stderr.contains("processes.a.listen[0] (x): socket path") && f.stderr.contains("more than the 107 a Unix socket address holds"), "{}", f.stderr);
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    p.config(json!({"processes": {"a": {"command": "touch started", "listen": [{"name": "h", "tcp": format!("127.0.0.1:{port}")}]}}}));
    let f = p.up(&[]);
    assert_eq!(f.status, 2);
    assert!(f.stderr.contains(&format!("processes.a.listen[0] (h): cannot listen on tcp 127.0.0.1:{port}: Address already in use")), "{}", f.stderr);
    p.config(json!({"processes": {"a": {"command": "touch started", "ports": {"http": 70000}}}}));
    let f = p.up(&[]);
    assert_eq!(f.status, 2);
    assert!(f.stderr.contains("processes.a.ports.http: expected a port 1..65535, got 70000"), "{}", f.stderr);
    assert!(!p.file("started").exists());
}

#[test]
fn a_flood_of_notify_datagrams_neither_blocks_the_sender_nor_grows_memory() {
    let p = Project::new();
    let flood = r#"
import os, socket, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
addr = os.environ["NOTIFY_SOCKET"]
s.sendto(b"READY=1", addr)
print("ready sent", flush=True)
time.sleep(0.5)
start = time.time()
for i in range(10000):
    s.sendto(b"STATUS=step %d\nWATCHDOG=1\nX_UNKNOWN=%d" % (i, i), addr)
print("sent in %.3f" % (time.time() - start), flush=True)
time.sleep(300)
"#;
    p.write("flood.py", flood);
    p.config(json!({"processes": {"f": {"command": "exec python3 flood.py", "ready_notify": true, "watchdog": {"timeout_seconds": 30}}}}));
    let run = p.start(&["up", "-f", "dev.json", "-q"]);
    run.wait_for("f | ready sent");
    std::thread::sleep(Duration::from_millis(200));
    let rss = || {
        let status = std::fs::read_to_string(format!("/proc/{}/status", run.pid())).unwrap();
        status.lines().find_map(|l| l.strip_prefix("VmRSS:")).unwrap().trim().trim_end_matches(" kB").trim().parse::<u64>().unwrap()
    };
    let before = rss();
    run.wait_for("sent in");
    let after = rss();
    let secs: f64 = run.stdout().lines().find_map(|l| l.split("sent in ").nth(1)).unwrap().trim().parse().unwrap();
    run.signal(Signal::SIGTERM);
    let f = run.wait();
    assert_eq!(f.status, 0, "{}", f.stderr);
    // Bounds are hang and leak guards, not timings: 10,000 datagrams through a queue of 10.
    assert!(secs < 30.0, "the sender was blocked for {secs}s");
    assert!(after < before + 4096, "corral's memory grew from {before} kB to {after} kB");
}
