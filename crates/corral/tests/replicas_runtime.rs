//! `corral scale NAME N` at run time: replicas added with their own names,
//! `PC_REPLICA_NUM` and ports, answering on distinct ports; removed ones
//! stopped; `ps --json` shows each replica's identity. Real HTTP servers.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use nix::sys::signal::Signal;
use support::{free_port, wait_until, Project};

const BOUND: Duration = Duration::from_secs(30);

/// Answers every request with "NAME REPLICA_NUM", on its own allocated port.
const SERVER: &str = r#"
import http.server, os
name = os.environ["CORRAL_PROCESS_NAME"]
var = "CORRAL_PORT_" + "".join(c.upper() if c.isalnum() else "_" for c in name) + "_HTTP"
body = (name + " " + os.environ["PC_REPLICA_NUM"]).encode()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
print("listening on", os.environ[var], flush=True)
http.server.HTTPServer(("127.0.0.1", int(os.environ[var])), H).serve_forever()
"#;

fn get(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    Some(text.split("\r\n\r\n").nth(1)?.to_string())
}

fn ps(p: &Project) -> Vec<serde_json::Value> {
    let out = p.corral(&["ps", "-f", "process-compose.yaml", "--json"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    serde_json::from_str::<serde_json::Value>(&out.stdout).unwrap().as_array().unwrap().clone()
}

fn named<'a>(list: &'a [serde_json::Value], name: &str) -> Option<&'a serde_json::Value> {
    list.iter().find(|p| p["name"] == name)
}

#[test]
fn a_scaled_set_answers_on_distinct_ports_and_shrinks_again() {
    let p = Project::new();
    p.write("server.py", SERVER);
    let base = free_port();
    p.write(
        "process-compose.yaml",
        &format!(
            r#"version: "0.5"
processes:
  api:
    command: python3 server.py
    replicas: 2
    ports:
      http: {base}
    readiness_probe:
      http_get: {{host: 127.0.0.1, port: http, path: /}}
      period_seconds: 0.2
  client:
    command: echo client started; sleep 300
    depends_on:
      api: {{condition: process_healthy}}
"#
        ),
    );
    let run = p.start(&["up", "-f", "process-compose.yaml"]);
    run.wait_for("client started");

    let up = p.corral(&["scale", "-f", "process-compose.yaml", "api", "3"]);
    assert_eq!(up.status, 0, "{}", up.stderr);
    assert!(up.stderr.contains("replicas: api-0, api-1, api-2"), "{}", up.stderr);
    let ready = wait_until(BOUND, || named(&ps(&p), "api-2").is_some_and(|a| a["ready"] == true));
    assert!(ready, "api-2 never became ready: {:?}\n{}", ps(&p), run.stderr());

    let list = ps(&p);
    let mut ports = Vec::new();
    for n in 0..3 {
        let a = named(&list, &format!("api-{n}")).unwrap();
        assert_eq!(a["replica"], n, "{a}");
        let port = a["ports"]["http"].as_u64().unwrap() as u16;
        assert_eq!(get(port).as_deref(), Some(format!("api-{n} {n}").as_str()));
        ports.push(port);
    }
    ports.dedup();
    assert_eq!(ports.len(), 3, "distinct ports: {ports:?}");
    assert!(named(&list, "client").unwrap().get("replica").is_none(), "an unreplicated process has no replica number");
    assert!(run.stdout().contains("api-2 | listening on"), "the new replica's output is labelled: {}", run.stdout());
    let logs = p.corral(&["logs", "--config", "process-compose.yaml", "api-2"]);
    assert!(logs.stdout.contains("listening on"), "{}", logs.stdout);

    let down = p.corral(&["scale", "-f", "process-compose.yaml", "api", "1"]);
    assert_eq!(down.status, 0, "{}", down.stderr);
    assert!(down.stderr.contains("replicas: api-0"), "{}", down.stderr);
    assert!(wait_until(BOUND, || get(ports[1]).is_none() && get(ports[2]).is_none()), "removed replicas still answer");
    let list = ps(&p);
    assert!(named(&list, "api-1").is_none() && named(&list, "api-2").is_none(), "{list:?}");
    assert_eq!(get(ports[0]).as_deref(), Some("api-0 0"));
    assert_eq!(named(&list, "client").unwrap()["state"], "running", "a dependent is not disturbed: {list:?}");

    // Back up: the removed replica comes back with its number and answers again.
    let again = p.corral(&["scale", "-f", "process-compose.yaml", "api", "2"]);
    assert_eq!(again.status, 0, "{}", again.stderr);
    assert!(wait_until(BOUND, || named(&ps(&p), "api-1").is_some_and(|a| a["ready"] == true)), "{}", run.stderr());
    let port = named(&ps(&p), "api-1").unwrap()["ports"]["http"].as_u64().unwrap() as u16;
    assert_eq!(get(port).as_deref(), Some("api-1 1"));

    for (args, want) in [
        (vec!["api", "0"], "expected a number of replicas from 1 to 1000, got 0"),
        (vec!["api", "1001"], "expected a number of replicas from 1 to 1000, got 1001"),
        (vec!["api-0", "2"], "api-0 is replica 0 of api: scale api"),
        (vec!["nope", "2"], "unknown process \"nope\""),
    ] {
        let mut all = vec!["scale", "-f", "process-compose.yaml"];
        all.extend(args);
        let f = p.corral(&all);
        assert_ne!(f.status, 0);
        assert!(f.stderr.contains(want), "{want}: {}", f.stderr);
    }

    run.signal(Signal::SIGTERM);
    let f = run.wait();
    assert_eq!(f.status, 0, "{}", f.stderr);
    p.assert_nothing_left();
}

#[test]
fn an_unreplicated_process_gains_numbered_replicas() {
    let p = Project::new();
    p.write(
        "process-compose.yaml",
        "processes:\n  worker:\n    command: echo \"worker $$PC_REPLICA_NUM up\"; sleep 300\n",
    );
    let run = p.start(&["up", "-f", "process-compose.yaml"]);
    run.wait_for("worker 0 up");
    let f = p.corral(&["scale", "-f", "process-compose.yaml", "worker", "3"]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert!(f.stderr.contains("replicas: worker, worker-1, worker-2"), "{}", f.stderr);
    run.wait_for("worker 2 up");
    let list = ps(&p);
    assert_eq!(named(&list, "worker-2").unwrap()["replica"], 2);
    run.signal(Signal::SIGTERM);
    assert_eq!(run.wait().status, 0);
    p.assert_nothing_left();
}
