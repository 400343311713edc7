//! Fault scenarios at the limits: descriptors (a flood of control connections
//! under a low limit, corral's own limit), the longest dependency chain the
//! size limit admits, and names that print nothing or reorder text.
//! (docs/reliability.md lists each with what must hold.)

mod support;

use std::process::Command;

use nix::sys::signal::Signal;
use serde_json::json;
use support::{wait_until, Project, HANG_GUARD};

fn fd_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

/// The longest dependency chain the config size limit admits (each process
/// depending on the next, names as short as they get), written compactly.
fn longest_chain(close: bool) -> String {
    fn name(mut i: usize) -> String {
        const DIGITS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut s = vec![DIGITS[i % 26]];
        i /= 26;
        while i > 0 {
            s.push(DIGITS[i % 36]);
            i /= 36;
        }
        String::from_utf8(s).unwrap()
    }
    let limit = corral_config::MAX_CONFIG_BYTES as usize - 100;
    let mut entries: Vec<String> = Vec::new();
    let mut size = 20;
    for i in 0.. {
        let entry = format!(r#""{}":{{"command":"x","depends_on":{{"{}":{{}}}}}}"#, name(i), name(i + 1));
        if size + entry.len() + 40 > limit {
            // The last process depends on the first (a cycle through all of them) or on nothing.
            let last = if close { format!(r#""{}":{{"command":"x","depends_on":{{"a":{{}}}}}}"#, name(i)) } else { format!(r#""{}":{{"command":"x"}}"#, name(i)) };
            entries.push(last);
            break;
        }
        size += entry.len() + 1;
        entries.push(entry);
    }
    format!(r#"{{"processes":{{{}}}}}"#, entries.join(","))
}

#[test]
fn the_longest_dependency_chain_the_size_limit_admits_loads_and_a_cycle_that_long_is_a_clear_error() {
    let p = Project::new();
    let text = longest_chain(false);
    assert!(text.len() as u64 <= corral_config::MAX_CONFIG_BYTES);
    p.raw_config(&text);
    let f = p.corral(&["check", "-f", "dev.json"]);
    assert_eq!(f.status, 0, "{}", &f.stderr[..f.stderr.len().min(2000)]);
    assert!(f.stdout.contains("ok, ") && f.stdout.contains("process(es)"), "{}", f.stdout);
    let n: usize = f.stdout.split("ok, ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(n > 300_000, "a chain of {n}");

    p.raw_config(&longest_chain(true));
    let f = p.corral(&["check", "-f", "dev.json"]);
    assert_eq!(f.status, 2, "{}", &f.stderr[..f.stderr.len().min(2000)]);
    assert!(f.stderr.contains(&format!("dependency cycle ({n} processes): a -> b -> c")), "{}", &f.stderr[..f.stderr.len().min(2000)]);
    assert!(f.stderr.len() < 4000, "the error names the cycle briefly, not all {n} members");
}

#[test]
fn process_names_with_bidi_overrides_or_zero_width_characters_are_rejected() {
    let p = Project::new();
    for name in ["db\u{202e}ipa", "a\u{200b}pi", "\u{2066}x", "api\u{feff}"] {
        p.config(json!({"processes": {name: {"command": "true"}}}));
        let f = p.corral(&["check", "-f", "dev.json"]);
        assert_eq!(f.status, 2, "{name:?}: {}", f.stderr);
        assert!(f.stderr.contains("invalid process name") && f.stderr.contains("direction-changing"), "{}", f.stderr);
        assert!(!f.stderr.contains(name), "the name is shown escaped: {}", f.stderr);
    }
}

/// Starts `corral up -f dev.json` under `prlimit --nofile=SOFT:HARD`; stderr to `stderr.txt`.
fn up_with_nofile(p: &Project, limit: &str) -> std::process::Child {
    Command::new("prlimit")
        .args([&format!("--nofile={limit}"), "--", support::CORRAL, "up", "-f", "dev.json"])
        .current_dir(p.path())
        .env_remove("CORRAL_CONFIG")
        .env_remove("CORRAL_PROJECT")
        .stdout(std::fs::File::create(p.file("stdout.txt")).unwrap())
        .stderr(std::fs::File::create(p.file("stderr.txt")).unwrap())
        .spawn()
        .unwrap()
}

#[test]
fn four_hundred_idle_or_half_sent_connections_under_a_low_fd_limit_do_not_stop_ps_or_restarts() {
    use std::io::Write;
    let p = Project::new();
    p.config(json!({"processes": {
        "steady": {"command": "echo steady; exec sleep 300"},
        "crash": {"command": "echo run; sleep 0.1; exit 1", "availability": {"restart": "on_failure", "backoff_seconds": 0.1}}
    }}));
    let socket = {
        let out = p.corral(&["ps", "-f", "dev.json"]);
        let path = out.stderr.split("no socket at ").nth(1).expect(&out.stderr).trim_end().trim_end_matches(')').to_string();
        std::path::PathBuf::from(path)
    };
    let mut child = up_with_nofile(&p, "256:256");
    let pid = child.id() as i32;
    let restarts = || p.read("stderr.txt").matches("crash: restarting in").count();
    assert!(wait_until(HANG_GUARD, || socket.exists() && restarts() >= 2), "{}", p.read("stderr.txt"));
    // 400 connections: half say nothing, half send half a request.
    let mut conns = Vec::new();
    for i in 0..400 {
        match std::os::unix::net::UnixStream::connect(&socket) {
            Ok(mut s) => {
                if i % 2 == 1 {
                    let _ = s.write_all(br#"{"id": 1, "comm"#);
                }
                conns.push(s);
            }
            Err(e) => panic!("connection {i}: {e}"),
        }
    }
    // corral still answers, and still restarts its process.
    let ps = p.corral(&["ps", "-f", "dev.json", "--json"]);
    assert_eq!(ps.status, 0, "{}", ps.stderr);
    let list: Vec<serde_json::Value> = serde_json::from_str(&ps.stdout).unwrap();
    assert_eq!(list.len(), 2);
    let before = restarts();
    assert!(wait_until(HANG_GUARD, || restarts() >= before + 5), "restarts stopped at {}: {}", restarts(), p.read("stderr.txt"));
    // It never ran out of descriptors (its own count stays under the limit).
    assert!(fd_count(pid) < 256, "{} descriptors", fd_count(pid));
    let err = p.read("stderr.txt");
    assert!(!err.contains("Too many open files") || err.contains("retrying every"), "{err}");
    assert!(!err.contains("could not start"), "{err}");
    drop(conns);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGTERM).unwrap();
    assert!(wait_until(HANG_GUARD, || matches!(child.try_wait(), Ok(Some(_)))));
    assert_eq!(child.wait().unwrap().code(), Some(0));
    p.assert_nothing_left();
}

#[test]
fn corral_raises_its_own_fd_limit_and_gives_its_processes_the_original() {
    let p = Project::new();
    p.config(json!({"processes": {"show": {"command": "echo soft=$(ulimit -Sn); exec sleep 300"}}}));
    let mut child = up_with_nofile(&p, "1024:8192");
    let pid = child.id() as i32;
    assert!(wait_until(HANG_GUARD, || p.read("stdout.txt").contains("soft=")), "{}", p.read("stderr.txt"));
    assert!(p.read("stdout.txt").contains("show | soft=1024"), "{}", p.read("stdout.txt"));
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let open_files = limits.lines().find(|l| l.starts_with("Max open files")).unwrap();
    assert_eq!(open_files.split_whitespace().nth(3), Some("8192"), "{open_files}");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGTERM).unwrap();
    assert!(wait_until(HANG_GUARD, || matches!(child.try_wait(), Ok(Some(_)))));
    p.assert_nothing_left();
}
