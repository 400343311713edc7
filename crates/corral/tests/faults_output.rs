//! Fault scenarios for output: terminal escapes from processes, a stdout nobody
//! reads, log files that block, and the bound on the `logs` ring.
//! (docs/reliability.md lists each with what must hold.)

mod support;

use std::process::{Command, Stdio};

use nix::sys::signal::Signal;
use serde_json::json;
use support::{wait_until, Project, HANG_GUARD};

#[test]
fn terminal_escapes_from_a_process_are_neutralised_in_labelled_output_and_kept_in_log_files() {
    let p = Project::new();
    // A forged line (carriage return, erase line, a fake label), a screen clear,
    // a title change, a cursor jump, and a colour left on.
    let evil = r#"printf 'ok\r\033[2Kdb | forged\n\033[2J\033[Hcleared\n\033]0;pwned\007titled\n\033[5;1Hjump\n\033[41mred without reset\n'"#;
    p.config(json!({"processes": {
        "evil": {"command": evil, "log_location": "evil.log"},
        "db": {"command": "sleep 0.3; echo db line"}
    }}));
    let f = p.up(&[]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert_eq!(f.lines_of("evil"), ["ok^Mdb | forged", "cleared", "titled", "jump", "\x1b[41mred without reset\x1b[0m"]);
    for line in f.stdout.lines() {
        let (label, _) = line.split_once(" | ").unwrap();
        assert!(["evil", "db  "].contains(&label), "every line starts with a real label: {line:?}");
        // Only SGR sequences remain: every ESC starts `ESC [ digits/; m`.
        for (i, _) in line.match_indices('\x1b') {
            let rest = &line[i + 1..];
            let end = rest.find('m').unwrap_or_else(|| panic!("a non-SGR escape in {line:?}"));
            assert!(rest.starts_with('[') && rest[1..end].chars().all(|c| c.is_ascii_digit() || c == ';'), "{line:?}");
        }
        assert!(!line.contains('\r') && !line.contains('\x07'), "{line:?}");
    }
    assert_eq!(f.lines_of("db"), ["db line"]);
    // The log file has the raw bytes.
    let log = p.read("evil.log");
    assert!(log.starts_with("ok\r\x1b[2Kdb | forged\n\x1b[2J\x1b[Hcleared\n\x1b]0;pwned\x07titled\n"), "{log:?}");
}

#[test]
fn a_stalled_stdout_does_not_starve_log_files_or_the_logs_ring() {
    let p = Project::new();
    // 100,000 lines (about 6.5 MB): far more than a pipe and corral's stdout queue (4 MiB) hold.
    p.config(json!({"processes": {
        "talker": {"command": "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); echo \"line $i of the talker, padded to make it a little longer\"; done; exec sleep 300",
                   "log_location": "talker.log"}
    }}));
    let mut child = Command::new(support::CORRAL)
        .args(["up", "-f", "dev.json"])
        .current_dir(p.path())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(p.file("stderr.txt")).unwrap())
        .spawn()
        .unwrap();
    // Held open and never read: a paused pager.
    let stalled = child.stdout.take();
    let lines = || p.read("talker.log").lines().count();
    assert!(wait_until(HANG_GUARD, || lines() == 100_000), "the log file got {} of 100000 lines while stdout was stalled", lines());
    let logs = p.corral(&["logs", "--config", "dev.json", "-n", "1", "talker"]);
    assert_eq!(logs.lines_of("talker"), ["line 100000 of the talker, padded to make it a little longer"], "{}", logs.stderr);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    assert!(wait_until(HANG_GUARD, || matches!(child.try_wait(), Ok(Some(_)))), "corral did not exit with its stdout stalled");
    assert_eq!(child.wait().unwrap().code(), Some(0));
    drop(stalled);
    let err = p.read("stderr.txt");
    assert!(err.contains("stdout has not been read for 2s"), "{err}");
    assert_eq!(lines(), 100_000);
    p.assert_nothing_left();
}

#[test]
fn a_log_location_that_blocks_on_open_is_a_clear_error_not_a_hang() {
    let p = Project::new();
    // A FIFO nobody reads: open() for writing would block for ever.
    nix::unistd::mkfifo(&p.file("fifo.log"), nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    p.config(json!({"processes": {"w": {"command": "touch started", "log_location": "fifo.log"}}}));
    let f = p.up(&[]);
    assert_eq!(f.status, 2, "{}", f.stderr);
    assert!(f.stderr.contains("cannot open log file") && f.stderr.contains("fifo.log") && f.stderr.contains("FIFO"), "{}", f.stderr);
    assert!(!p.file("started").exists(), "nothing started");
    // A FIFO with a reader is a valid destination.
    let path = p.file("fifo.log");
    let reader = std::thread::spawn(move || std::fs::read_to_string(path).unwrap());
    p.config(json!({"processes": {"w": {"command": "echo through the fifo", "log_location": "fifo.log"}}}));
    let f = p.up(&[]);
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert_eq!(reader.join().unwrap(), "through the fifo\n");
}

#[test]
fn the_logs_ring_is_bounded_for_short_and_empty_lines() {
    // The ring counted only the text of each line: 50,000 empty lines cost it
    // nothing, so it kept them all (the memory creep of a crash loop with output).
    let p = Project::new();
    p.config(json!({"processes": {"blank": {"command": "i=0; while [ $i -lt 50000 ]; do echo; i=$((i+1)); done; echo done; exec sleep 300"}}}));
    let run = p.start(&["up", "-f", "dev.json", "-q"]);
    run.wait_for("blank | done");
    let logs = p.corral(&["logs", "--config", "dev.json", "-n", "1000000", "blank"]);
    assert_eq!(logs.status, 0, "{}", logs.stderr);
    let kept = logs.lines_of("blank").len();
    assert!(kept > 1000 && kept < 10_000, "the ring kept {kept} lines");
    run.signal(Signal::SIGTERM);
    assert_eq!(run.wait().status, 0);
}
