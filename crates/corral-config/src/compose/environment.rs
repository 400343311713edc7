//! The environment as process-compose builds it, folded into corral's layers at
//! load time: `.env` (lowest: below corral's own environment and the global
//! `environment`), the global `environment` with what `env_cmds` printed after
//! it, then a process's `env_file`, then its own `environment`.
//!
//! corral's layers are "inherited < global < pre_hook < process", so `.env`
//! values are placed at the front of each process's environment, leaving out any
//! name corral's environment or the global `environment` already sets (the
//! same result as process-compose's order, except that a variable the pre_hook
//! exports does not override a `.env` value); `env_file` values follow them.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one `env_cmds` command may run. process-compose allows 2 s and then
/// drops the variable without a word; corral allows more and fails the load.
pub(crate) const ENV_CMD_DEADLINE: Duration = Duration::from_secs(5);

/// Reads a dotenv file (`NAME=value` lines, comments, quotes, `export`), as
/// process-compose's godotenv does. The error names the file and line where the
/// parser gives one.
pub(crate) fn read_env_file(path: &Path) -> Result<Vec<(String, String)>, String> {
    // A FIFO or a device would block the load (or never end): only regular files.
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    if meta.len() > crate::load::MAX_CONFIG_BYTES {
        return Err(format!("{} is {} bytes, more than the limit of {}", path.display(), meta.len(), crate::load::MAX_CONFIG_BYTES));
    }
    let iter = dotenvy::from_path_iter(path).map_err(|e| describe(path, &e))?;
    let mut out: Vec<(String, String)> = Vec::new();
    for item in iter {
        let (k, v) = item.map_err(|e| describe(path, &e))?;
        match out.iter_mut().find(|(name, _)| *name == k) {
            Some(slot) => slot.1 = v,
            None => out.push((k, v)),
        }
    }
    Ok(out)
}

fn describe(path: &Path, e: &dotenvy::Error) -> String {
    match e {
        dotenvy::Error::Io(io) => format!("cannot read {}: {io}", path.display()),
        dotenvy::Error::LineParse(line, at) => format!("{}: cannot parse {line:?} (at character {at})", path.display()),
        other => format!("{}: {other}", path.display()),
    }
}

/// Runs one `env_cmds` command with `shell`, in `dir`, and returns its trimmed output.
pub(crate) fn run_env_cmd(shell: &(String, String), command: &str, dir: &Path) -> Result<String, String> {
    let mut child = Command::new(&shell.0)
        .arg(&shell.1)
        .arg(command)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run {} {} …: {e}", shell.0, shell.1))?;
    // Readers on threads, collected with a deadline: a process the command left
    // behind (outside its group) may hold the pipes open for ever.
    let (tx, rx) = std::sync::mpsc::channel::<(bool, Vec<u8>)>();
    for (is_out, mut pipe) in [(true, Box::new(child.stdout.take().expect("piped")) as Box<dyn Read + Send>), (false, Box::new(child.stderr.take().expect("piped")))] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.by_ref().take(if is_out { 1 << 20 } else { 4096 }).read_to_end(&mut buf);
            let _ = tx.send((is_out, buf));
        });
    }
    drop(tx);
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() >= ENV_CMD_DEADLINE => {
                kill_group(child.id());
                let _ = child.wait();
                return Err(format!("did not finish within {} s (killed)", ENV_CMD_DEADLINE.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("cannot wait for it: {e}")),
        }
    };
    // Whatever it left running in its group goes too.
    kill_group(child.id());
    let (mut out, mut err) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        let left = ENV_CMD_DEADLINE.saturating_sub(started.elapsed()).max(Duration::from_millis(200));
        match rx.recv_timeout(left) {
            Ok((true, b)) => out = b,
            Ok((false, b)) => err = b,
            Err(_) => return Err("exited, but something it started keeps its output open (it must not leave processes behind)".into()),
        }
    }
    if !status.success() {
        let err = String::from_utf8_lossy(&err);
        let err = err.trim();
        return Err(format!("failed ({status}){}", if err.is_empty() { String::new() } else { format!(": {err}") }));
    }
    let text = String::from_utf8(out).map_err(|_| "printed bytes that are not UTF-8".to_string())?;
    if text.contains('\0') {
        return Err("printed a NUL byte".into());
    }
    Ok(text.trim().to_string())
}

fn kill_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    }
}

/// `path` against `base` unless absolute.
pub(crate) fn resolve(base: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh() -> (String, String) {
        ("sh".into(), "-c".into())
    }

    #[test]
    fn env_cmds_output_failure_and_deadline() {
        let dir = std::env::temp_dir();
        assert_eq!(run_env_cmd(&sh(), "echo ' v1 '", &dir).unwrap(), "v1");
        let e = run_env_cmd(&sh(), "echo oops >&2; exit 3", &dir).unwrap_err();
        assert!(e.contains("exit status: 3") && e.contains("oops"), "{e}");
        let t = Instant::now();
        let e = run_env_cmd(&sh(), "sleep 60", &dir).unwrap_err();
        assert!(e.contains("did not finish") && t.elapsed() < Duration::from_secs(30), "{e}");
        let t = Instant::now();
        // The leftover has left the command's session (so killing the group misses it) before the command ends.
        let leftover = r#"setsid sleep 8 & while [ "$(ps -o sid= -p $! | tr -d ' ')" = "$(ps -o sid= -p $$ | tr -d ' ')" ]; do sleep 0.01; done; echo v"#;
        let e = run_env_cmd(&sh(), leftover, &dir).unwrap_err();
        assert!(e.contains("keeps its output open") && t.elapsed() < Duration::from_secs(30), "{e}");
    }

    #[test]
    fn dotenv_files() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join(".env");
        std::fs::write(&f, "# c\nA=1\nexport B=\"two words\"\nA=3\n").unwrap();
        assert_eq!(read_env_file(&f).unwrap(), vec![("A".into(), "3".into()), ("B".into(), "two words".into())]);
        assert!(read_env_file(&dir.path().join("missing")).unwrap_err().contains("cannot read"));
        nix::unistd::mkfifo(&dir.path().join("fifo"), nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert!(read_env_file(&dir.path().join("fifo")).unwrap_err().contains("not a regular file"));
    }
}
