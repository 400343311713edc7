//! The spawn path against real processes: environment, PATH lookup like
//! execvp, exec errors like std, cgroups, shared memory, signals.

use std::os::fd::AsRawFd;
use std::os::unix::process::ExitStatusExt;

use nix::libc;

use super::*;

#[tokio::test]
async fn runs_a_program_with_exactly_its_environment_and_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg("echo \"$ONLY|${HOME:-none}|$(pwd)\"").env_clear().env("ONLY", "yes").env("PATH", "/usr/bin:/bin").current_dir(dir.path());
    cmd.stdout(Stdio::from(w)).stdin(Stdio::null());
    let mut child = cmd.spawn(None).unwrap();
    let status = child.wait().await.unwrap();
    assert!(status.success());
    let mut buf = [0u8; 256];
    let n = nix::unistd::read(r.as_raw_fd(), &mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert_eq!(text.trim(), format!("yes|none|{}", dir.path().canonicalize().unwrap().display()));
}

#[tokio::test]
async fn reports_exec_failures_like_std() {
    let e = Command::new("surely-not-a-program-corral").spawn(None).err().unwrap();
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("not-executable");
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    let e = Command::new(&script).spawn(None).err().unwrap();
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
    let mut cmd = Command::new("true");
    cmd.current_dir(dir.path().join("missing"));
    // Not "program not found": the directory is what is missing.
    let e = cmd.spawn(None).err().unwrap();
    assert!(e.to_string().contains("working directory") && e.to_string().contains("missing"), "{e}");
    let mut cmd = Command::new("true");
    // SAFETY: returns an error without touching anything.
    unsafe { cmd.pre_exec(|| Err(io::Error::from_raw_os_error(libc::EXDEV))) };
    assert_eq!(cmd.spawn(None).err().unwrap().raw_os_error(), Some(libc::EXDEV));
}

/// The child runs in corral's memory until it execs (no copy): what a
/// `pre_exec` step stores is seen by the parent. The fork fallback copies.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[tokio::test]
async fn the_child_shares_memory_until_it_execs() {
    use std::sync::atomic::{AtomicI32, Ordering::SeqCst};
    use std::sync::Arc;
    for shared in [true, false] {
        let seen = Arc::new(AtomicI32::new(0));
        let store = seen.clone();
        let mut c = Command::new("true");
        // SAFETY: getpid and an atomic store: no allocation, no lock.
        unsafe {
            c.pre_exec(move || {
                store.store(libc::getpid(), SeqCst);
                Ok(())
            })
        };
        let mut child = c.spawn_with(None, shared).unwrap();
        assert_eq!(seen.load(SeqCst) == child.id(), shared);
        assert!(child.wait().await.unwrap().success());
    }
}

#[tokio::test]
async fn exit_statuses_and_signals_come_back() {
    let mut c = Command::new("sh");
    c.arg("-c").arg("exit 7");
    assert_eq!(c.spawn(None).unwrap().wait().await.unwrap().code(), Some(7));
    let mut c = Command::new("sleep");
    c.arg("30").new_process_group();
    let mut child = c.spawn(None).unwrap();
    assert_eq!(nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(child.id()))).unwrap().as_raw(), child.id());
    assert!(child.try_wait().unwrap().is_none());
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id()), nix::sys::signal::Signal::SIGTERM).unwrap();
    assert_eq!(child.wait().await.unwrap().signal(), Some(libc::SIGTERM));
}

#[tokio::test]
async fn the_child_starts_inside_the_cgroup() {
    let Ok(cg) = super::super::cgroup::RunCgroup::create(&format!("corral-spawn-unit-{}", std::process::id())) else {
        eprintln!("SKIPPED: no writable cgroup v2 here");
        return;
    };
    let fds = cg.join_fds().unwrap();
    let mut c = Command::new("sleep");
    c.arg("30");
    let mut child = c.spawn(Some(fds.raw())).unwrap();
    assert_eq!(cg.has_member(child.id()), Some(true));
    assert_eq!(cg.pids(), [child.id()]);
    // The fallback (no clone3): forked, it joins by writing cgroup.procs, and is waited by polling.
    let mut c = Command::new("sleep");
    c.arg("30");
    let mut forked = c.spawn_with(Some(fds.raw()), false).unwrap();
    assert!(forked.has_pidfd(), "pidfd_open gives the fallback a pidfd too");
    assert_eq!(cg.has_member(forked.id()), Some(true));
    assert_eq!(cg.pids().len(), 2);
    cg.kill();
    child.wait().await.unwrap();
    assert_eq!(forked.wait().await.unwrap().signal(), Some(libc::SIGKILL));
    cg.remove();
}

/// std (execvp after chdir) searches a relative PATH entry from the child's
/// directory, not corral's.
#[tokio::test]
async fn relative_path_entries_are_searched_from_the_childs_directory() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("bin")).unwrap();
    let prog = dir.path().join("bin/corral-review-prog");
    std::fs::write(&prog, "#!/bin/sh\nexit 3\n").unwrap();
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut c = Command::new("corral-review-prog");
    c.env_clear().env("PATH", "bin").current_dir(dir.path());
    let mut child = c.spawn(None).expect("found like std finds it");
    assert_eq!(child.wait().await.unwrap().code(), Some(3));
}

/// An executable file without `#!` runs with /bin/sh, as execvp runs it.
#[tokio::test]
async fn a_script_without_shebang_runs_like_std() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("no-shebang");
    std::fs::write(&script, "exit 4\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut child = Command::new(&script).spawn(None).expect("runs like std");
    assert_eq!(child.wait().await.unwrap().code(), Some(4));
}

/// A Child dropped unreaped is reaped in the background, on both paths.
#[tokio::test]
async fn a_dropped_child_is_reaped_on_both_paths() {
    for clone3 in [true, false] {
        let child = Command::new("true").spawn_with(None, clone3).unwrap();
        let pid = child.id();
        drop(child);
        let zombie = || std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().rsplit(')').next().is_some_and(|r| r.trim_start().starts_with('Z'));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while zombie() && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(!zombie(), "pid {pid} (clone3: {clone3}) is still a zombie after its Child was dropped");
    }
}

/// Steps added after the pid slots and placed descriptors still run (the
/// readiness/listener path used to exec in its own step, skipping later ones).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[tokio::test]
async fn pre_exec_steps_run_with_pid_variables_and_placed_descriptors() {
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use std::sync::Arc;
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let mut c = Command::new("sh");
    c.arg("-c").arg("echo \"$LISTEN_PID $$\" >&7").env_clear().env("PATH", "/usr/bin:/bin").env_pid("LISTEN_PID").place_fd(w.as_raw_fd(), 7);
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    // SAFETY: an atomic store (the child shares memory: the parent sees it).
    unsafe {
        c.pre_exec(move || {
            flag.store(true, SeqCst);
            Ok(())
        })
    };
    let mut child = c.spawn(None).unwrap();
    drop(w);
    assert!(child.wait().await.unwrap().success());
    assert!(ran.load(SeqCst), "a pre_exec step never ran");
    let mut buf = [0u8; 64];
    let n = nix::unistd::read(r.as_raw_fd(), &mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    let ids: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(ids, [child.id().to_string(), child.id().to_string()], "LISTEN_PID is the child's own pid");
}

/// A placement onto the number of the pipe that reports exec errors cannot
/// swallow an exec error (here E2BIG, after the placement).
#[tokio::test]
async fn an_exec_failure_after_fd_placement_is_still_reported() {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    nix::fcntl::fcntl(r.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK)).unwrap();
    // Every low number a report pipe could get is a placement target.
    let mut c = Command::new("true");
    c.env("BIG", "x".repeat(200_000));
    for target in 3..40 {
        c.place_fd(w.as_raw_fd(), target);
    }
    let result = c.spawn(None);
    let mut buf = [0u8; 8];
    assert_eq!(nix::unistd::read(r.as_raw_fd(), &mut buf).unwrap_or(0), 0, "the errno went into a placed descriptor");
    assert_eq!(result.err().and_then(|e| e.raw_os_error()), Some(libc::E2BIG));
}

/// A stop signal (^Z: SIGTSTP to corral's foreground group) that arrives
/// while the child is still in corral's group must not stop the child
/// before exec, which would leave the spawning thread waiting forever. Runs
/// in a process of its own (it makes its own process group and signals it).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[test]
fn a_stop_signal_during_the_spawn_window_does_not_hang_the_spawner() {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().unwrap();
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["--exact", "platform::spawn::tests::stop_signals_during_spawns", "--ignored", "--test-threads=1"]);
    // SAFETY: setsid(2) only: a session and group of its own to signal.
    unsafe { cmd.pre_exec(|| { libc::setsid(); Ok(()) }) };
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"), "{}", String::from_utf8_lossy(&out.stdout));
}

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[test]
#[ignore = "run by a_stop_signal_during_the_spawn_window_does_not_hang_the_spawner, in a process group of its own"]
fn stop_signals_during_spawns() {
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use std::sync::Arc;
    // SAFETY: plain system calls on this test process.
    let me = unsafe {
        libc::signal(libc::SIGTSTP, libc::SIG_IGN);
        libc::getpgrp()
    };
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let sender = std::thread::spawn(move || {
        while !stop2.load(SeqCst) {
            // SAFETY: kill(2) to our own group, where SIGTSTP is ignored.
            unsafe { libc::kill(-me, libc::SIGTSTP) };
        }
    });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            for i in 0..3000 {
                let mut c = Command::new("true");
                c.new_process_group();
                let mut child = c.spawn(None).unwrap();
                child.wait().await.unwrap();
                let _ = tx.send(i);
            }
        });
    });
    let mut hung = None;
    loop {
        match rx.recv_timeout(std::time::Duration::from_secs(10)) {
            Ok(2999) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Ok(_) => continue,
            Err(_) => {
                hung = super::super::procfs::children_of_self()
                    .into_iter()
                    .find(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|s| s.rsplit(')').next().is_some_and(|r| r.trim_start().starts_with('T'))));
                break;
            }
        }
    }
    stop.store(true, SeqCst);
    sender.join().unwrap();
    if let Some(pid) = hung {
        // SAFETY: kill(2) to our own stopped child, releasing the waiting thread.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        panic!("spawn hung: child {pid} stopped in its own group before exec");
    }
}
