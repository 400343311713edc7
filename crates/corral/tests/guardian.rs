//! The guardian binary, `corral-guard` (crates/corral-guard), run for real:
//! its footprint beside a running corral, and its line protocol driven
//! directly through a pipe against real process groups. (What corral does
//! with it when corral is `kill -9`ed is in faults.rs, hooks and pid1 tests.)

mod support;

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::json;
use support::{is_live, wait_until, Project, CORRAL, HANG_GUARD};

fn guard_exe() -> PathBuf {
    std::path::Path::new(CORRAL).with_file_name("corral-guard")
}

fn status_kb(pid: i32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find_map(|l| l.strip_prefix(field)).and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
}

/// corral's child running `corral-guard`.
fn guardian_of(corral: i32) -> Option<i32> {
    std::fs::read_dir("/proc").ok()?.flatten().filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok()).find(|&pid| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ppid = stat.rsplit_once(')').and_then(|(_, r)| r.split_whitespace().nth(1)?.parse::<i32>().ok());
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
        ppid == Some(corral) && exe.file_name().is_some_and(|n| n == "corral-guard") && is_live(pid)
    })
}

#[test]
fn the_guardian_of_a_run_is_a_few_pages_without_libc() {
    let p = Project::new();
    p.config(json!({"processes": {
        "a": {"command": "echo up-a; exec sleep 300"},
        "b": {"command": "echo up-b; exec sleep 300"},
        "c": {"command": "echo up-c; exec sleep 300"}
    }}));
    let run = p.start(&["up", "-f", "dev.json"]);
    for n in ["up-a", "up-b", "up-c"] {
        run.wait_for(n);
    }
    let guard = guardian_of(run.pid()).expect("a corral-guard child of corral");
    let rss = status_kb(guard, "VmRSS:").expect("the guardian's VmRSS");
    let maps = std::fs::read_to_string(format!("/proc/{guard}/maps")).unwrap();
    eprintln!("corral-guard: VmRSS {rss} kB; corral: VmRSS {:?} kB", status_kb(run.pid(), "VmRSS:"));
    // A generous bound (it measures about 50 kB): a std binary on glibc is about 1,750 kB.
    assert!(rss < 200, "the guardian's VmRSS is {rss} kB\n{maps}");
    assert!(!maps.contains("libc") && !maps.contains("ld-linux"), "no shared library is mapped:\n{maps}");
    run.signal(Signal::SIGTERM);
    let f = run.wait();
    assert_eq!(f.status, 0, "{}", f.stderr);
    assert!(!is_live(guard), "the guardian ended with corral (bye)");
    assert!(!f.stderr.contains("corral-guard:"), "a normal end is silent: {}", f.stderr);
    p.assert_nothing_left();
}

/// A process in a group of its own (its pid is the group id), with `env` added.
fn spawn_group(cmd: &str, env: &[(&str, &str)]) -> Child {
    let child = Command::new("sh").args(["-c", cmd]).envs(env.iter().copied()).process_group(0).stdin(Stdio::null()).spawn().unwrap();
    // spawn() may return before the kernel has set up the new program's environment.
    let environ = format!("/proc/{}/environ", child.id());
    assert!(wait_until(HANG_GUARD, || !std::fs::read(&environ).unwrap_or_default().is_empty()));
    child
}

fn start_time(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    stat.rsplit_once(')').unwrap().1.split_whitespace().nth(19).unwrap().parse().unwrap()
}

fn guardian(run_id: &str) -> Child {
    Command::new(guard_exe()).arg(run_id).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped()).process_group(0).spawn().unwrap()
}

/// Waits (bounded) for a child to end; whether it was killed by SIGKILL.
fn ended_by_sigkill(child: &mut Child) -> Option<bool> {
    use std::os::unix::process::ExitStatusExt;
    let end = Instant::now() + HANG_GUARD;
    while Instant::now() < end {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s.signal() == Some(9));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    None
}

fn finish(mut g: Child) -> (i32, String) {
    let out = {
        assert!(wait_until(HANG_GUARD, || g.try_wait().unwrap().is_some()), "the guardian did not end");
        g.wait_with_output().unwrap()
    };
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn end_of_file_without_bye_kills_groups_orphans_and_marked_processes_but_only_those() {
    let run_id = format!("guard-test-{}", std::process::id());
    let marker = ("CORRAL_RUN_ID", run_id.as_str());
    let mut group = spawn_group("sleep 300 & exec sleep 300", &[]);
    let mut orphan = spawn_group("exec sleep 300", &[]);
    let mut marked = spawn_group("exec sleep 300", &[marker]);
    // Told as an orphan with another start time: a reused pid, to be spared.
    let mut reused = spawn_group("exec sleep 300", &[]);
    let mut stranger = spawn_group("exec sleep 300", &[("CORRAL_RUN_ID", "another-run")]);
    let mut g = guardian(&run_id);
    let lines = format!(
        "+{}\n+999999999\nnonsense\no {} {}\no {} {}\n",
        group.id(),
        orphan.id(),
        start_time(orphan.id()),
        reused.id(),
        start_time(reused.id()) + 1
    );
    g.stdin.take().unwrap().write_all(lines.as_bytes()).unwrap(); // and closed: corral "died"
    let (status, stderr) = finish(g);
    assert_eq!(status, 0, "{stderr}");
    for (name, child) in [("group", &mut group), ("orphan", &mut orphan), ("marked", &mut marked)] {
        assert_eq!(ended_by_sigkill(child), Some(true), "{name} was SIGKILLed");
    }
    for (name, child) in [("reused", &mut reused), ("stranger", &mut stranger)] {
        assert!(child.try_wait().unwrap().is_none(), "{name} was spared");
        child.kill().unwrap();
        child.wait().unwrap();
    }
    // The group leader's background sleep went with its group.
    assert!(wait_until(HANG_GUARD, || !std::fs::read_to_string("/proc/self/status").is_ok_and(|_| {
        std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
            let pid: i32 = e.file_name().to_string_lossy().parse().unwrap_or(0);
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            is_live(pid) && stat.rsplit_once(')').and_then(|(_, r)| r.split_whitespace().nth(2)?.parse::<u32>().ok()) == Some(group.id())
        })
    })));
    // Counted: the orphan and the marked process (groups are signalled whole, not counted).
    assert_eq!(stderr, format!("corral-guard: corral ended without stopping its processes; killed 2 process(es) of run {run_id}\n"));
}

#[test]
fn bye_ends_it_touching_nothing_and_stop_signals_do_not_end_it() {
    let mut group = spawn_group("exec sleep 300", &[]);
    let mut g = guardian("guard-test-bye");
    let mut stdin = g.stdin.take().unwrap();
    writeln!(stdin, "+{}", group.id()).unwrap();
    let pid = Pid::from_raw(g.id() as i32);
    // Once started, it ignores SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE and SIGTERM (bits n-1 of SigIgn).
    let ignored = || {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status.lines().find_map(|l| l.strip_prefix("SigIgn:")).and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
    };
    assert!(wait_until(HANG_GUARD, || ignored().is_some_and(|m| m & 0x5a07 == 0x5a07)), "SigIgn: {:x?}", ignored());
    for sig in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP, Signal::SIGQUIT, Signal::SIGPIPE, Signal::SIGUSR1, Signal::SIGUSR2] {
        kill(pid, sig).unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    assert!(g.try_wait().unwrap().is_none(), "stop signals are for corral");
    writeln!(stdin, "bye").unwrap();
    let (status, stderr) = finish(g);
    assert_eq!((status, stderr.as_str()), (0, ""));
    assert!(group.try_wait().unwrap().is_none(), "bye touches nothing");
    group.kill().unwrap();
    group.wait().unwrap();
}

#[test]
fn the_pre_hook_group_is_spared_until_it_ends_by_itself() {
    let run_id = format!("guard-test-hook-{}", std::process::id());
    let marker = ("CORRAL_RUN_ID", run_id.as_str());
    let dir = tempfile::tempdir().unwrap();
    let mut victim = spawn_group("exec sleep 300", &[marker]);
    // The hook (marked too, as a run's pre_hook is) outlives corral briefly, like an EXIT trap's work.
    let report = dir.path().join("hook.txt");
    let script = format!("sleep 1; if kill -0 {} 2>/dev/null; then echo victim-alive; else echo victim-gone; fi > {}", victim.id(), report.display());
    let mut hook = spawn_group(&script, &[marker]);
    let mut g = guardian(&run_id);
    // The victim is found by its marker alone (told as a group, it would be signalled whole, uncounted).
    let lines = format!("h {}\n+{}\n", hook.id(), hook.id());
    let started = Instant::now();
    g.stdin.take().unwrap().write_all(lines.as_bytes()).unwrap();
    // The victim goes at once; the hook keeps running and ends by itself.
    assert_eq!(ended_by_sigkill(&mut victim), Some(true));
    assert_eq!(ended_by_sigkill(&mut hook), Some(false), "the hook was not killed");
    let (status, stderr) = finish(g);
    assert_eq!(status, 0, "{stderr}");
    assert!(started.elapsed() >= Duration::from_millis(900), "the guardian waited for the hook");
    assert_eq!(std::fs::read_to_string(&report).unwrap(), "victim-gone\n");
    assert!(stderr.contains(&format!("killed 1 process(es) of run {run_id}")), "{stderr}");
}

#[test]
fn without_corral_guard_beside_it_corral_runs_its_built_in_copy_from_memory() {
    let p = Project::new();
    p.config(json!({"processes": {"sleeper": {"command": "exec sleep 300"}}}));
    // corral alone in a directory of its own (a hard link: the same file, no copy of 100 MB).
    let lone = p.path().join("bin");
    std::fs::create_dir(&lone).unwrap();
    let exe = lone.join("corral");
    std::fs::hard_link(CORRAL, &exe).or_else(|_| std::fs::copy(CORRAL, &exe).map(drop)).unwrap();
    let mut run = Command::new(&exe).args(["up", "-f", "dev.json"]).current_dir(p.path()).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let corral = run.id() as i32;
    assert!(wait_until(HANG_GUARD, || !p.survivors().iter().all(|s| !s.contains("sleep 300"))), "the process started");
    let guard = std::fs::read_dir("/proc").unwrap().flatten().filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .find(|&pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains("(corral-guard)") && s.rsplit(')').next().and_then(|r| r.split_whitespace().nth(1)).is_some_and(|pp| pp == corral.to_string())));
    let guard = guard.expect("a guardian named corral-guard, child of corral");
    assert!(std::fs::read_link(format!("/proc/{guard}/exe")).unwrap().to_string_lossy().contains("memfd:corral-guard"), "run from memory");
    // It guards: kill -9 of corral leaves nothing.
    kill(Pid::from_raw(corral), Signal::SIGKILL).unwrap();
    run.wait().unwrap();
    p.assert_nothing_left();
}
