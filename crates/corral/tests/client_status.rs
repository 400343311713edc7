//! Client commands' exit statuses (docs/exit-status.md): 3 when no corral runs
//! for the project, 1 when the request failed, 0 on success; and the habits of
//! issue 15 item 7: `corral process …` aliases, `up -t=false`, `--keep-project`,
//! client commands finding the project as `up` does.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::time::Duration;

use corral_protocol::{ErrorBody, ErrorCode, ServerMessage};
use serde_json::json;
use support::{wait_until, Project, HANG_GUARD};

/// Every client command, with the arguments it needs (the aliases too).
const COMMANDS: &[&[&str]] = &[
    &["down"],
    &["ps"],
    &["logs"],
    &["start", "a"],
    &["stop", "a"],
    &["restart", "a"],
    &["wait"],
    &["attach"],
    &["process", "list"],
    &["process", "logs"],
    &["process", "start", "a"],
    &["process", "stop", "a"],
    &["process", "restart", "a"],
    &["scale", "a", "2"],
    &["process", "scale", "a", "2"],
];

/// `corral ARGS… <config flag> dev.json` (logs takes `--config`: its `-f` follows).
fn run(p: &Project, args: &[&str]) -> support::Finished {
    let mut all: Vec<&str> = args.to_vec();
    all.push(if args.contains(&"logs") { "--config" } else { "-f" });
    all.push("dev.json");
    p.corral(&all)
}

fn simple(p: &Project) {
    p.config(json!({"processes": {"a": {"command": "sleep 300"}}}));
}

#[test]
fn no_corral_running_exits_3_for_every_client_command() {
    let p = Project::new();
    simple(&p);
    for args in COMMANDS {
        let f = run(&p, args);
        assert_eq!(f.status, 3, "{args:?}: {}", f.stderr);
        assert!(f.stderr.contains("no corral is running for project"), "{args:?}: {}", f.stderr);
    }
}

#[test]
fn a_stale_socket_is_no_corral_running_too() {
    let p = Project::new();
    simple(&p);
    let socket = socket_path(&p);
    std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
    drop(UnixListener::bind(&socket).unwrap()); // bound, then nobody listens: refused
    let f = run(&p, &["ps"]);
    assert_eq!(f.status, 3, "{}", f.stderr);
    assert!(f.stderr.contains("left by a corral that ended"), "{}", f.stderr);
    let _ = std::fs::remove_file(&socket);
}

/// The project's socket, as a client command names it when nothing runs.
fn socket_path(p: &Project) -> PathBuf {
    let f = run(p, &["ps"]);
    let at = f.stderr.split("no socket at ").nth(1).expect("the message names the socket");
    PathBuf::from(at.trim_end().trim_end_matches(')'))
}

/// A corral-like server on the project's socket that refuses every request with
/// `Failed`: what a client sees when a request fails (for the commands whose
/// request the real corral never refuses, e.g. `ps`).
fn refusing_server(socket: &PathBuf) -> std::thread::JoinHandle<()> {
    std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
    let listener = UnixListener::bind(socket).unwrap();
    listener.set_nonblocking(false).unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut writer = conn;
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                let req: serde_json::Value = serde_json::from_str(&line).unwrap();
                if req["cmd"] == "stop-test-server" {
                    return;
                }
                let id = req["id"].as_u64().unwrap();
                let body = ErrorBody { code: ErrorCode::Failed, message: "refused by the test server".into() };
                let _ = writer.write_all(&ServerMessage::reply(id, Err(body)).to_line());
                line.clear();
            }
        }
    })
}

#[test]
fn a_failed_request_exits_1_for_every_client_command() {
    let p = Project::new();
    simple(&p);
    let socket = socket_path(&p);
    let server = refusing_server(&socket);
    for args in COMMANDS {
        let f = run(&p, args);
        assert_eq!(f.status, 1, "{args:?}: {}", f.stderr);
        assert!(f.stderr.contains("refused by the test server"), "{args:?}: {}", f.stderr);
    }
    let mut c = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    c.write_all(b"{\"cmd\":\"stop-test-server\"}\n").unwrap();
    server.join().unwrap();
    let _ = std::fs::remove_file(&socket);
}

#[test]
fn requests_a_real_corral_refuses_exit_1_and_good_ones_0() {
    let p = Project::new();
    p.config(json!({"processes": {"a": {"command": "sleep 300"}, "slow": {"command": "sleep 300", "readiness_probe": {"exec": {"command": "false"}, "period_seconds": 1}}}}));
    let up = p.corral(&["up", "-f", "dev.json", "-d"]);
    assert_eq!(up.status, 0, "{}", up.stderr);
    for args in [&["start", "nosuch"][..], &["stop", "nosuch"], &["restart", "nosuch"], &["logs", "nosuch"], &["process", "stop", "nosuch"], &["process", "logs", "nosuch"]] {
        let f = run(&p, args);
        assert_eq!(f.status, 1, "{args:?}: {}", f.stderr);
        assert!(f.stderr.contains("unknown process \"nosuch\""), "{args:?}: {}", f.stderr);
    }
    let f = run(&p, &["wait", "--timeout", "0.5"]);
    assert_eq!(f.status, 1, "wait that times out: {}", f.stderr);
    for args in [&["ps"][..], &["process", "list"], &["logs"], &["stop", "a"], &["process", "start", "a"], &["process", "restart", "a"]] {
        let f = run(&p, args);
        assert_eq!(f.status, 0, "{args:?}: {}", f.stderr);
    }
    assert!(run(&p, &["process", "list"]).stdout.contains("slow"));
    assert_eq!(run(&p, &["down"]).status, 0);
    p.assert_nothing_left();
}

#[test]
fn client_commands_find_the_project_as_up_does() {
    // No -f: discovery (process-compose.yaml here), from a subdirectory too.
    let p = Project::new();
    p.write("process-compose.yaml", &format!("environment:\n  - CORRAL_TEST_MARK={}\nprocesses:\n  a:\n    command: sleep 300\n", p.mark));
    std::fs::create_dir_all(p.file("src/deep")).unwrap();
    let up = p.corral(&["up", "-d"]);
    assert_eq!(up.status, 0, "{}", up.stderr);
    let sub = |args: &[&str]| {
        std::process::Command::new(support::CORRAL)
            .args(args)
            .current_dir(p.file("src/deep"))
            .env_remove("CORRAL_CONFIG")
            .env_remove("CORRAL_PROJECT")
            .env_remove("PRJ_ROOT")
            .output()
            .unwrap()
    };
    let ps = sub(&["process", "list"]);
    assert_eq!(ps.status.code(), Some(0), "{}", String::from_utf8_lossy(&ps.stderr));
    assert!(String::from_utf8_lossy(&ps.stdout).contains("running"));
    let down = sub(&["down"]);
    assert_eq!(down.status.code(), Some(0), "{}", String::from_utf8_lossy(&down.stderr));
    let again = sub(&["ps"]);
    assert_eq!(again.status.code(), Some(3));
    p.assert_nothing_left();
}

#[test]
fn a_bad_project_root_is_bad_input() {
    let p = Project::new();
    simple(&p);
    let out = std::process::Command::new(support::CORRAL).args(["ps", "-f", "dev.json"]).current_dir(p.path()).env("PRJ_ROOT", "/nonexistent/dir").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("PRJ_ROOT=/nonexistent/dir is not a directory"), "{stderr}");
}

#[test]
fn up_accepts_tui_false_and_falls_back_to_plain_output_without_a_terminal() {
    let p = Project::new();
    p.config(json!({"processes": {"a": {"command": "echo hello"}}}));
    for flag in ["-t=false", "--tui=false", "--tui=0"] {
        let f = p.up(&[flag]);
        assert_eq!(f.status, 0, "{flag}: {}", f.stderr);
        assert!(f.stdout.contains("a | hello"), "{flag}: {}", f.stdout);
        assert!(!f.stderr.contains("no dashboard"), "{flag}: {}", f.stderr);
    }
    // Asked for the dashboard with stdout not a terminal: plain output, with a note.
    for flag in ["-t", "--tui", "--tui=true"] {
        let f = p.up(&[flag]);
        assert_eq!(f.status, 0, "{flag}: {}", f.stderr);
        assert!(f.stderr.contains("no dashboard"), "{flag}: {}", f.stderr);
        assert!(f.stdout.contains("a | hello"), "{flag}: {}", f.stdout);
    }
}

#[test]
fn keep_project_stays_up_after_every_process_ended_until_down() {
    let p = Project::new();
    p.config(json!({"processes": {"a": {"command": "echo done > a.out"}}}));
    let run = p.start(&["up", "-f", "dev.json", "--keep-project"]);
    assert!(wait_until(HANG_GUARD, || p.read("a.out").contains("done")));
    assert!(wait_until(HANG_GUARD, || run_status(&p).contains("completed")));
    std::thread::sleep(Duration::from_millis(500));
    let ps = run_status(&p);
    assert!(ps.contains("completed"), "still up, and answering: {ps}");
    // Processes can be started again while it stays up.
    assert_eq!(p.corral(&["process", "start", "-f", "dev.json", "a"]).status, 0);
    assert_eq!(p.corral(&["down", "-f", "dev.json"]).status, 0);
    let f = run.wait();
    assert_eq!(f.status, 0, "{}", f.stderr);
    // Without the flag the run ends by itself.
    assert_eq!(p.up(&[]).status, 0);
}

fn run_status(p: &Project) -> String {
    p.corral(&["ps", "-f", "dev.json"]).stdout
}
