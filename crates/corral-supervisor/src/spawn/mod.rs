//! Building and starting commands: the program, its directory, its exact
//! environment, stdin from /dev/null, stdout and stderr into one pipe.
//!
//! The mechanism (clone3, the child's steps, a process that must see its own
//! pid in its environment) is [`crate::platform::spawn`].

use std::io;
use std::os::fd::{OwnedFd, RawFd};
use std::path::Path;

use nix::fcntl::OFlag;
use tokio::net::unix::pipe;
use crate::platform::spawn::{Child, Command, Stdio};

use crate::env::Env;
use crate::plan::Program;
use crate::registry::Registry;
use crate::terminals::Terminal;

/// A started process and the read end of its output pipe.
pub(crate) struct Launched {
    pub(crate) child: Child,
    pub(crate) pid: i32,
    pub(crate) output: pipe::Receiver,
}

/// The command for `program`, with exactly `env` as its environment.
pub(crate) fn command(program: &Program, cwd: &Path, env: &Env) -> Command {
    let mut cmd = match program {
        Program::Shell { shell, argument, text } => {
            let mut c = Command::new(shell);
            c.arg(argument).arg(text);
            c
        }
        Program::Exec(argv) => {
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]);
            c
        }
    };
    cmd.current_dir(cwd).env_clear().envs(env.iter());
    cmd
}

/// Starts `cmd` with stdin from /dev/null and stdout+stderr into a fresh pipe.
pub(crate) fn launch(registry: &Registry, mut cmd: Command, what: &str, cwd: &Path) -> Result<Launched, String> {
    if !cwd.is_dir() {
        return Err(format!("working_dir {} does not exist or is not a directory", cwd.display()));
    }
    let (read, write) = output_pipe().map_err(|e| format!("cannot create an output pipe: {e}"))?;
    let write2 = write.try_clone().map_err(|e| format!("cannot duplicate the output pipe: {e}"))?;
    cmd.stdin(Stdio::null()).stdout(Stdio::from(write)).stderr(Stdio::from(write2));
    let (child, pid) = registry.spawn(cmd).map_err(|e| spawn_error(what, &e))?;
    let output = pipe::Receiver::from_owned_fd(read).map_err(|e| format!("cannot watch the output pipe: {e}"))?;
    Ok(Launched { child, pid, output })
}

/// Starts `cmd` on a new pseudo-terminal (`is_tty`) of `size`: stdin, stdout
/// and stderr are the terminal, which is also its controlling terminal. What
/// the process writes is copied to the returned [`Terminal`]'s followers
/// (`attach NAME`) and into a pipe read like any process's output.
pub(crate) fn launch_tty(registry: &Registry, mut cmd: Command, what: &str, cwd: &Path, size: crate::platform::pty::Size) -> Result<(Launched, Terminal), String> {
    if !cwd.is_dir() {
        return Err(format!("working_dir {} does not exist or is not a directory", cwd.display()));
    }
    let (master, slave) = crate::platform::pty::open(size).map_err(|e| format!("cannot create a pseudo-terminal: {e}"))?;
    let dup = |fd: &OwnedFd| fd.try_clone().map_err(|e| format!("cannot duplicate the pseudo-terminal: {e}"));
    let master_read = dup(&master)?;
    cmd.stdin(Stdio::from(dup(&slave)?)).stdout(Stdio::from(dup(&slave)?)).stderr(Stdio::from(slave));
    // SAFETY: make_controlling only makes async-signal-safe system calls.
    unsafe {
        cmd.pre_exec(crate::platform::pty::make_controlling);
    }
    let (child, pid) = registry.spawn(cmd).map_err(|e| spawn_error(what, &e))?;
    let terminal = Terminal::new(master);
    let (read, write) = output_pipe().map_err(|e| format!("cannot create an output pipe: {e}"))?;
    // A pty's corral side polls and reads like a pipe's read end.
    let from = pipe::Receiver::from_owned_fd_unchecked(master_read).map_err(|e| format!("cannot watch the pseudo-terminal: {e}"))?;
    let to = pipe::Sender::from_owned_fd(write).map_err(|e| format!("cannot watch the output pipe: {e}"))?;
    tokio::spawn(pump(from, to, terminal.output.clone()));
    let output = pipe::Receiver::from_owned_fd(read).map_err(|e| format!("cannot watch the output pipe: {e}"))?;
    Ok((Launched { child, pid, output }, terminal))
}

/// Copies a terminal's output to its attached followers as it is, and to the
/// output pipe with the terminal's `\r\n` line ends made `\n` (for labelled
/// lines and log files), until the process's side is closed (EIO once every
/// holder exited).
async fn pump(mut from: pipe::Receiver, mut to: pipe::Sender, followers: crate::terminals::Output) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    let mut lines = Vec::with_capacity(buf.len() + 1);
    let mut held_cr = false;
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                followers.publish(&buf[..n]);
                lines.clear();
                for &b in &buf[..n] {
                    if held_cr && b != b'\n' {
                        lines.push(b'\r');
                    }
                    held_cr = b == b'\r';
                    if !held_cr {
                        lines.push(b);
                    }
                }
                if to.write_all(&lines).await.is_err() {
                    return;
                }
            }
        }
    }
    if held_cr {
        let _ = to.write_all(b"\r").await;
    }
}

/// A pipe whose both ends are close-on-exec from birth, so no other child can
/// inherit them (which would keep end-of-file from ever arriving).
pub(crate) fn output_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(nix::unistd::pipe2(OFlag::O_CLOEXEC)?)
}

fn spawn_error(what: &str, e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => format!("cannot run {what}: program not found (is it on PATH?)"),
        io::ErrorKind::PermissionDenied => format!("cannot run {what}: permission denied"),
        _ => format!("cannot run {what}: {e}"),
    }
}

/// Arranges for `fds` to be the child's fds 3, 4, … (in order).
pub(crate) fn place_fds(cmd: &mut Command, fds: Vec<RawFd>) {
    for (i, fd) in fds.into_iter().enumerate() {
        cmd.place_fd(fd, 3 + i as RawFd);
    }
}

