//! `is_tty`: the process gets a pseudo-terminal (isatty, a window size, a
//! controlling terminal, a session of its own, line buffering, colours) while its output still goes
//! through corral's labelled, terminal-safe output and its log file.

mod support;

use std::process::Command;
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::json;
use support::{wait_until, Project};

const PROBE: &str = r#"import os, sys, time
print("isatty", sys.stdin.isatty(), sys.stdout.isatty(), sys.stderr.isatty())
size = os.get_terminal_size()
print("size", size.columns, size.lines)
open("/dev/tty").close()
print("session of its own", os.getsid(0) != os.getsid(os.getppid()) or os.getsid(0) == os.getppid())
print("first")
time.sleep(float(sys.argv[1]))
print("done")
"#;

#[test]
fn a_tty_process_sees_a_terminal_and_its_output_stays_labelled() {
    let p = Project::new();
    p.write("probe.py", PROBE);
    std::fs::create_dir(p.file("adir")).unwrap();
    p.config(json!({"processes": {
        "t": {"command": "python3 probe.py 0.1; ls --color=auto -d adir", "is_tty": true, "log_location": "t.log", "availability": {"exit_on_end": true}, "depends_on": {"piped": {"condition": "process_completed_successfully"}}},
        "piped": {"command": "python3 -c 'import sys; print(\"piped\", sys.stdout.isatty())'"}
    }}));
    let f = p.up(&[]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    let t = f.lines_of("t");
    assert!(t.contains(&"isatty True True True"), "{t:?}");
    assert!(t.contains(&"size 80 24"), "corral's own stdout is no terminal here: 80x24 ({t:?})");
    assert!(t.contains(&"session of its own True"), "{t:?}");
    assert_eq!(f.lines_of("piped"), ["piped False"], "only is_tty processes get a terminal");
    // ls colours on a terminal: the escape reaches the log file raw and stdout made safe.
    let log = p.read("t.log");
    assert!(log.contains("\x1b[") && log.contains("adir"), "{log:?}");
    assert!(!log.contains('\r'), "no carriage returns from the terminal: {log:?}");
    let shown = t.iter().find(|l| l.contains("adir")).unwrap();
    assert!(shown.contains("\x1b[01;34m") && shown.ends_with("\x1b[0m"), "colours are kept on stdout, reset at the end: {shown:?}");
}

#[test]
fn a_tty_process_is_line_buffered_and_stops_with_nothing_left() {
    let p = Project::new();
    p.write("probe.py", PROBE);
    p.config(json!({"processes": {"t": {"command": "exec python3 probe.py 300", "is_tty": true}}}));
    let run = p.start(&["up", "-f", "dev.json"]);
    // Python block-buffers a pipe: "first" shows while it sleeps only because stdout is a terminal.
    run.wait_for("t | first");
    run.signal(Signal::SIGTERM);
    let f = run.wait();
    assert!(f.stderr.contains("t: exited with signal SIGTERM"), "{}", f.stderr);
    p.assert_nothing_left();
}

#[test]
fn through_a_real_terminal_the_process_gets_corral_s_window_size() {
    let p = Project::new();
    p.write("probe.py", PROBE);
    p.config(json!({"processes": {"t": {"command": "python3 probe.py 0", "is_tty": true, "log_location": "t.log", "availability": {"exit_on_end": true}}}}));
    // `script` runs corral on a terminal of its own, sized here.
    let inner = format!("stty cols 123 rows 37; {} up -f dev.json", support::CORRAL);
    let out = Command::new("timeout").args(["60", "script", "-qec", &inner, "/dev/null"]).current_dir(p.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(wait_until(Duration::from_secs(10), || p.read("t.log").contains("done")));
    assert!(p.read("t.log").contains("size 123 37"), "{}", p.read("t.log"));
}

/// Asks for names and greets them; says its window size at the start and on every SIGWINCH.
const GREET: &str = r#"import os, signal
def winch(*a):
    s = os.get_terminal_size(); print("size", s.columns, s.lines, flush=True)
signal.signal(signal.SIGWINCH, winch)
winch()
while True:
    line = input("name? ")
    print("hello", line, flush=True)
    if line == "bye": break
"#;

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn attach_gives_a_tty_process_the_keyboard_and_the_window_size_through_a_real_terminal() {
    let p = Project::new();
    p.write("greet.py", GREET);
    p.config(json!({"processes": {
        "g": {"command": "python3 greet.py", "is_tty": true, "log_location": "g.log"},
        "other": {"command": "sleep 300"}
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    assert!(wait_until(Duration::from_secs(20), || p.file("g.log").exists() && p.read("g.log").contains("size 80 24")), "{}", run.stderr());
    let session = format!("corral-tty-{}", p.mark);
    let inner = format!("cd {}; {} attach --config dev.json g; echo attach-status $?; sleep 60", p.path().display(), support::CORRAL);
    tmux(&["new-session", "-d", "-s", &session, "-x", "100", "-y", "30", &inner]);
    let pane = || tmux(&["capture-pane", "-p", "-t", &session]);
    let log_has = |s: &str| wait_until(Duration::from_secs(20), || p.read("g.log").contains(s));
    assert!(log_has("size 100 30"), "the terminal took the client's window size: {}\n{}", p.read("g.log"), pane());
    tmux(&["send-keys", "-t", &session, "world", "Enter"]);
    assert!(log_has("hello world"), "keystrokes reach the process: {}\n{}", p.read("g.log"), pane());
    assert!(wait_until(Duration::from_secs(10), || pane().contains("hello world")), "its output reaches the terminal: {}", pane());
    tmux(&["resize-window", "-t", &session, "-x", "90", "-y", "25"]);
    assert!(log_has("size 90 25"), "a resize is SIGWINCH with the new size: {}", p.read("g.log"));
    tmux(&["send-keys", "-t", &session, "bye", "Enter"]);
    assert!(wait_until(Duration::from_secs(20), || pane().contains("corral: g exited with status 0") && pane().contains("attach-status 0")), "{}", pane());
    tmux(&["kill-session", "-t", &session]);
    // Only an is_tty process that runs has a terminal to attach to.
    let f = p.corral(&["attach", "--config", "dev.json", "other"]);
    assert_eq!(f.status, 1);
    assert!(f.stderr.contains("other has no terminal now"), "{}", f.stderr);
    run.signal(Signal::SIGTERM);
    run.wait();
    p.assert_nothing_left();
}

#[test]
fn run_puts_a_process_in_the_foreground_with_its_dependencies_in_the_background() {
    let p = Project::new();
    p.write("ask.py", "import sys\nline = input('name? ')\nprint('hello', line, flush=True)\nsys.exit(3)\n");
    // ask has no is_tty: `run` gives it the terminal; it waits for db to be ready first.
    p.config(json!({"processes": {
        "db": {"command": "sleep 0.5; touch db.up; sleep 300", "readiness_probe": {"exec": {"command": "test -e db.up"}, "period_seconds": 0.1, "failure_threshold": 100}},
        "ask": {"command": "python3 ask.py", "depends_on": {"db": {"condition": "process_healthy"}}},
        "unrelated": {"command": "touch unrelated.ran; sleep 300"}
    }}));
    let session = format!("corral-run-{}", p.mark);
    let inner = format!("cd {}; {} run --config dev.json ask; echo run-status $?; sleep 60", p.path().display(), support::CORRAL);
    tmux(&["new-session", "-d", "-s", &session, "-x", "100", "-y", "30", &inner]);
    let pane = || tmux(&["capture-pane", "-p", "-t", &session]);
    assert!(wait_until(Duration::from_secs(20), || pane().contains("name?")), "{}", pane());
    assert!(p.file("db.up").exists(), "its dependency runs in the background");
    tmux(&["send-keys", "-t", &session, "bob", "Enter"]);
    assert!(wait_until(Duration::from_secs(20), || pane().contains("run-status 3")), "the run ends with its status: {}", pane());
    assert!(pane().contains("hello bob"), "{}", pane());
    tmux(&["kill-session", "-t", &session]);
    assert!(!p.file("unrelated.ran").exists(), "only NAME and its dependencies run");
    p.assert_nothing_left();
}

#[test]
fn a_client_that_attaches_late_still_sees_the_prompt_printed_before_it_came() {
    let p = Project::new();
    // The prompt has no newline, and it is printed before any client attaches.
    p.config(json!({"processes": {
        "ask": {"command": "printf 'your name> '; touch printed; read name; echo \"hi $name\"; sleep 300", "is_tty": true}
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    assert!(wait_until(Duration::from_secs(20), || p.file("printed").exists()), "{}", run.stderr());
    std::thread::sleep(Duration::from_millis(300));
    let session = format!("corral-late-{}", p.mark);
    let inner = format!("cd {}; {} attach --config dev.json ask; sleep 60", p.path().display(), support::CORRAL);
    tmux(&["new-session", "-d", "-s", &session, "-x", "100", "-y", "30", &inner]);
    let pane = || tmux(&["capture-pane", "-p", "-t", &session]);
    assert!(wait_until(Duration::from_secs(20), || pane().contains("your name>")), "the prompt reaches a client that came later: {}", pane());
    tmux(&["send-keys", "-t", &session, "ann", "Enter"]);
    assert!(wait_until(Duration::from_secs(20), || pane().contains("hi ann")), "{}", pane());
    tmux(&["kill-session", "-t", &session]);
    run.signal(Signal::SIGTERM);
    run.wait();
    p.assert_nothing_left();
}
