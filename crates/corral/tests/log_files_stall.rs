//! A log file whose writes block (a FIFO whose reader stalls) holds up
//! neither the other log files nor the `logs` ring (issue 14).

mod support;

use std::os::unix::fs::OpenOptionsExt;

use serde_json::json;
use support::{wait_until, Project, HANG_GUARD};

#[test]
fn a_stalled_fifo_log_file_does_not_hold_up_another_log_file_or_the_ring() {
    let p = Project::new();
    let fifo = p.file("stalled.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    // A reader that never reads: the FIFO fills (64 KiB) and writes to it block.
    let reader = std::fs::OpenOptions::new().read(true).custom_flags(nix::libc::O_NONBLOCK).open(&fifo).unwrap();
    p.config(json!({"name": "stall", "processes": {
        "flood": {"command": "yes flooding-the-fifo | head -c 12000000; echo flood-done; exec sleep 300", "log_location": "stalled.fifo"},
        "steady": {"command": "sleep 1; for i in $(seq 1 200); do echo steady-$i; done; exec sleep 300", "log_location": "steady.log"}
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    let steady_done = wait_until(HANG_GUARD, || p.read("steady.log").lines().count() == 200);
    assert!(steady_done, "steady.log has {} of 200 lines while the FIFO is stalled\n{}", p.read("steady.log").lines().count(), run.stderr());
    let expected: Vec<String> = (1..=200).map(|i| format!("steady-{i}")).collect();
    assert_eq!(p.lines("steady.log"), expected, "every line, in order");
    // The ring too.
    let logs = p.corral(&["logs", "--config", "dev.json", "-n", "500", "steady"]);
    assert_eq!(logs.status, 0, "{}", logs.stderr);
    assert_eq!(logs.lines_of("steady").last().copied(), Some("steady-200"), "{}", logs.stdout);
    assert!(wait_until(HANG_GUARD, || run.stderr().contains("stalled.fifo is not keeping up")), "the stalled file says so\n{}", run.stderr());
    // Lines printed after the FIFO was found stalled still reach the other file at once.
    let more = p.corral(&["restart", "-f", "dev.json", "steady"]);
    assert_eq!(more.status, 0, "{}", more.stderr);
    assert!(wait_until(HANG_GUARD, || p.read("steady.log").lines().count() == 400), "{}", p.read("steady.log").lines().count());
    // The run still ends, within its bounds, with the FIFO still stalled.
    assert_eq!(p.corral(&["down", "-f", "dev.json"]).status, 0);
    let f = run.wait();
    assert_eq!(f.status, 0, "{}", f.stderr);
    drop(reader);
    p.assert_nothing_left();
}
