//! Test support: run the real `corral` binary on a config in a temporary project
//! directory, with hang guards, and find processes a run left behind.
//!
//! Every config written through [`Project::config`] gets a unique
//! `CORRAL_TEST_MARK` in its global environment, so the processes of one test
//! can be found in /proc (zombies excluded: this sandbox's init does not reap).
#![allow(dead_code)]

pub mod nixrun;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const CORRAL: &str = env!("CARGO_BIN_EXE_corral");

/// Generous bound for a run that should end by itself (a hang guard, not a timing test).
pub const HANG_GUARD: Duration = Duration::from_secs(60);

pub struct Project {
    pub dir: tempfile::TempDir,
    pub mark: String,
}

impl Project {
    pub fn new() -> Project {
        static N: AtomicUsize = AtomicUsize::new(0);
        let mark = format!("{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst));
        Project { dir: tempfile::tempdir().unwrap(), mark }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) {
        fs::write(self.file(name), text).unwrap();
    }

    /// Lines of a file in the project.
    pub fn lines(&self, name: &str) -> Vec<String> {
        self.read(name).lines().map(str::to_string).collect()
    }

    pub fn read(&self, name: &str) -> String {
        fs::read_to_string(self.file(name)).unwrap_or_default()
    }

    /// Writes `dev.json`, adding this test's mark to the global environment.
    pub fn config(&self, mut config: Value) -> PathBuf {
        let env = config.as_object_mut().unwrap().entry("environment").or_insert(json!([]));
        env.as_array_mut().unwrap().push(json!(format!("CORRAL_TEST_MARK={}", self.mark)));
        self.raw_config(&serde_json::to_string_pretty(&config).unwrap())
    }

    pub fn raw_config(&self, text: &str) -> PathBuf {
        let path = self.file("dev.json");
        fs::write(&path, text).unwrap();
        path
    }

    /// Starts `corral ARGS…` in the project directory; stdout and stderr go to files.
    pub fn start(&self, args: &[&str]) -> Run {
        self.start_with(args, &[])
    }

    /// `corral ARGS…` in the project directory, to its end (for client commands).
    pub fn corral(&self, args: &[&str]) -> Finished {
        self.start(args).wait()
    }

    pub fn start_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let out = self.file(&format!(".stdout-{n}"));
        let err = self.file(&format!(".stderr-{n}"));
        let child = Command::new(CORRAL)
            .args(args)
            .current_dir(self.path())
            .envs(env.iter().copied())
            .env_remove("NO_COLOR")
            .env_remove("CORRAL_CONFIG")
            .env_remove("CORRAL_PROJECT")
            .env_remove("PRJ_ROOT")
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out).unwrap())
            .stderr(fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        Run { child, out, err }
    }

    /// `corral up -f dev.json ARGS…` to its end.
    pub fn up(&self, args: &[&str]) -> Finished {
        let mut all = vec!["up", "-f", "dev.json"];
        all.extend_from_slice(args);
        self.start(&all).wait()
    }

    /// The state directory of this project's running corral (the one whose
    /// project id starts with `name-` and whose working directory is this project).
    pub fn state_dir(&self, name: &str) -> PathBuf {
        let base = std::env::var_os("XDG_RUNTIME_DIR")
            .map(|d| PathBuf::from(d).join("corral"))
            .unwrap_or_else(|| format!("/tmp/corral-{}", nix::unistd::getuid()).into());
        let root = self.path().canonicalize().unwrap();
        fs::read_dir(base)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|d| {
                let pid: i32 = fs::read_to_string(d.join("lock")).unwrap_or_default().trim().parse().unwrap_or(0);
                d.file_name().unwrap().to_string_lossy().starts_with(&format!("{name}-")) && fs::read_link(format!("/proc/{pid}/cwd")).map(|c| c == root).unwrap_or(false)
            })
            .expect("the running project's state directory")
    }

    /// Live (non-zombie) processes carrying this test's mark.
    pub fn survivors(&self) -> Vec<String> {
        let needle = format!("CORRAL_TEST_MARK={}", self.mark);
        let mut out = Vec::new();
        for entry in fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
            let Ok(env) = fs::read(format!("/proc/{pid}/environ")) else { continue };
            if !env.split(|b| *b == 0).any(|e| e == needle.as_bytes()) {
                continue;
            }
            if is_live(pid) {
                let cmd = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                out.push(format!("{pid}: {}", String::from_utf8_lossy(&cmd).replace('\0', " ")));
            }
        }
        out
    }

    /// Waits (bounded) until no process of this test is left; returns the survivors otherwise.
    pub fn assert_nothing_left(&self) {
        let ok = wait_until(Duration::from_secs(10), || self.survivors().is_empty());
        assert!(ok, "processes survived: {:?}", self.survivors());
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        // Never leave a test's processes behind, whatever the test did.
        for line in self.survivors() {
            if let Some(pid) = line.split(':').next().and_then(|p| p.parse::<i32>().ok()) {
                unsafe { nix::libc::kill(pid, nix::libc::SIGKILL) };
            }
        }
    }
}

/// A TCP port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Lines of corral's stderr, in order; `index_of` finds the first containing a text.
pub fn index_of(stderr: &str, needle: &str) -> usize {
    stderr.lines().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("no line with {needle:?} in:\n{stderr}"))
}

/// A small HTTP server for probe tests: `python3 server.py PORT`. It answers
/// 200 when the file `healthy` exists in its directory, 503 otherwise; a
/// request with header `X-Token: secret` to /token gets 204, else 401.
pub const HTTP_SERVER: &str = r#"
import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open("requests.log", "a") as f: f.write(self.path + "\n")
        if self.path == "/token":
            code = 204 if self.headers.get("X-Token") == "secret" else 401
        else:
            code = 200 if os.path.exists("healthy") else 503
        self.send_response(code); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"#;

pub fn is_live(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            let state = s.rsplit_once(')').map(|(_, r)| r.trim_start().chars().next().unwrap_or('?')).unwrap_or('?');
            state != 'Z' && state != 'X'
        }
        Err(_) => false,
    }
}

pub fn wait_until(bound: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + bound;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub struct Run {
    pub child: Child,
    out: PathBuf,
    err: PathBuf,
}

#[derive(Debug)]
pub struct Finished {
    /// The exit code, or 128 + signal.
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// Lines of stdout that `label | …` produced, without the label.
    pub fn lines_of(&self, label: &str) -> Vec<&str> {
        self.stdout
            .lines()
            .filter_map(|l| {
                let (name, rest) = l.split_once(" | ")?;
                (name.trim_end() == label).then_some(rest)
            })
            .collect()
    }
}

impl Run {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig).unwrap();
    }

    pub fn stdout(&self) -> String {
        fs::read_to_string(&self.out).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Waits (bounded) until stdout contains `needle`.
    pub fn wait_for(&self, needle: &str) {
        let ok = wait_until(HANG_GUARD, || self.stdout().contains(needle));
        assert!(ok, "never saw {needle:?}\nstdout:\n{}\nstderr:\n{}", self.stdout(), self.stderr());
    }

    /// Waits until corral has started some process (its stderr says so).
    pub fn wait_for_stderr_hint(&self) {
        let ok = wait_until(HANG_GUARD, || self.stderr().contains(": started (pid"));
        assert!(ok, "nothing started\nstderr:\n{}", self.stderr());
    }

    /// Waits for corral to exit; kills it and fails the test after [`HANG_GUARD`].
    pub fn wait(mut self) -> Finished {
        let end = Instant::now() + HANG_GUARD;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("corral did not exit within {HANG_GUARD:?}\nstdout:\n{}\nstderr:\n{}", self.stdout(), self.stderr());
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        use std::os::unix::process::ExitStatusExt;
        let status = status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
        Finished { status, stdout: self.stdout(), stderr: self.stderr() }
    }
}
