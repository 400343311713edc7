//! One probe check of each kind. Each returns Ok(()) or a short reason; the
//! caller bounds it with the probe's timeout.

use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::env::Env;
use crate::hooks::exit_status_of;
use crate::plan::{Check, PortRef, Program};
use crate::registry::{signal_group, Registry};
use crate::spawn::command;

pub(crate) async fn run(check: &Check, env: &Env, registry: &Registry, timeout: Duration) -> Result<(), String> {
    match check {
        Check::Exec { program, working_dir } => exec(program, working_dir, env, registry, timeout).await,
        Check::HttpGet { host, port, path, headers, status } => {
            let port = resolve(port)?;
            bounded(timeout, http_get(host, port, path, headers, *status)).await
        }
        Check::Tcp { host, port } => {
            let port = resolve(port)?;
            bounded(timeout, async {
                TcpStream::connect((host.as_str(), port)).await.map(drop).map_err(|e| format!("connect to {host}:{port}: {e}"))
            })
            .await
        }
        Check::Listening => Ok(()),
    }
}

/// Named ports are resolved when a probe starts (`ProbeSpec::with_ports`); an unresolved one is a bug.
fn resolve(port: &PortRef) -> Result<u16, String> {
    match port {
        PortRef::Fixed(p) => Ok(*p),
        PortRef::Allocated(name) => Err(format!("port {name:?} was not allocated")),
    }
}

async fn bounded(timeout: Duration, f: impl std::future::Future<Output = Result<(), String>>) -> Result<(), String> {
    tokio::time::timeout(timeout, f).await.unwrap_or_else(|_| Err(format!("timed out after {timeout:?}")))
}

/// Kills the exec probe's whole process group if the check is abandoned
/// (timeout, or the probe task is cancelled when the process's run ends).
struct GroupGuard<'a> {
    pgid: i32,
    registry: &'a Registry,
    done: bool,
}

impl Drop for GroupGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            signal_group(self.pgid, Signal::SIGKILL);
            self.registry.release(self.pgid);
        }
    }
}

async fn exec(program: &Program, cwd: &Path, env: &Env, registry: &Registry, timeout: Duration) -> Result<(), String> {
    if !cwd.is_dir() {
        return Err(format!("working_dir {} does not exist", cwd.display()));
    }
    let mut cmd = command(program, cwd, env);
    use crate::platform::spawn::Stdio;
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    let (mut child, pid) = registry.spawn(cmd).map_err(|e| format!("cannot run the probe: {e}"))?;
    let mut guard = GroupGuard { pgid: pid, registry, done: false };
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(status) => {
            guard.done = true;
            registry.release(pid);
            // The probe's own children may linger in its group: they must not pile up.
            signal_group(pid, Signal::SIGKILL);
            match status.map(exit_status_of) {
                Ok(0) => Ok(()),
                Ok(s) => Err(format!("exec probe exited with status {s}")),
                Err(e) => Err(format!("exec probe: {e}")),
            }
        }
        Err(_) => {
            signal_group(pid, Signal::SIGKILL);
            let _ = child.wait().await;
            guard.done = true;
            registry.release(pid);
            Err(format!("exec probe timed out after {timeout:?}; its process group was killed"))
        }
    }
}

/// A minimal HTTP/1.1 GET: enough to read the status line, no body handling.
async fn http_get(host: &str, port: u16, path: &str, headers: &[(String, String)], expected: Option<u16>) -> Result<(), String> {
    let mut stream = TcpStream::connect((host, port)).await.map_err(|e| format!("connect to {host}:{port}: {e}"))?;
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: corral-probe\r\nAccept: */*\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.map_err(|e| format!("send request: {e}"))?;
    let mut head = Vec::with_capacity(256);
    let mut buf = [0u8; 256];
    while !head.windows(2).any(|w| w == b"\r\n") {
        let n = stream.read(&mut buf).await.map_err(|e| format!("read response: {e}"))?;
        if n == 0 || head.len() > 8192 {
            return Err("no HTTP status line in the response".into());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .filter(|_| line.starts_with("HTTP/"))
        .ok_or_else(|| format!("not an HTTP response: {:?}", line.lines().next().unwrap_or("")))?;
    let ok = match expected {
        Some(want) => status == want,
        None => (200..400).contains(&status),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("GET {path} answered {status}"))
    }
}
