//! The client side: a blocking connection used by `corral ps`, `logs`, `down` …
//! (no async runtime needed for a one-shot command). A server that is gone is
//! a clear message, never a hang.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use serde_json::Value;

use super::project::Project;
use super::protocol::{ErrorBody, Event, Request, RequestCommand, ServerMessage, VERSION};

pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    next_id: u64,
    project: String,
}

#[derive(Debug)]
pub enum CallError {
    /// The server answered with an error.
    Server(ErrorBody),
    /// The connection broke or timed out.
    Io(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Server(e) => f.write_str(&e.message),
            CallError::Io(m) => f.write_str(m),
        }
    }
}

impl Client {
    pub fn connect(project: &Project) -> Result<Client, String> {
        let path = project.socket();
        let stream = UnixStream::connect(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => format!("no corral is running for project {} (no socket at {})", project.id, path.display()),
            io::ErrorKind::ConnectionRefused => format!(
                "no corral is running for project {} (the socket {} was left by a corral that ended without cleaning up; the next `corral up` replaces it)",
                project.id,
                path.display()
            ),
            _ => format!("cannot connect to {}: {e}", path.display()),
        })?;
        let reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
        Ok(Client { reader, writer: stream, next_id: 1, project: project.id.clone() })
    }

    /// Gives up on a reply after `d` (None: wait as long as it takes).
    pub fn set_timeout(&mut self, d: Option<Duration>) {
        let _ = self.writer.set_read_timeout(d);
    }

    /// Sends one request; events of a stream go to `on_event`; returns the result.
    pub fn call(&mut self, command: RequestCommand, mut on_event: impl FnMut(Event)) -> Result<Value, CallError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut line = serde_json::to_vec(&Request { v: VERSION, id, command }).expect("requests serialize");
        line.push(b'\n');
        self.writer.write_all(&line).map_err(|e| CallError::Io(format!("the corral of project {} went away: {e}", self.project)))?;
        loop {
            let mut buf = String::new();
            match self.reader.read_line(&mut buf) {
                Ok(0) => return Err(CallError::Io(format!("the corral of project {} closed the connection", self.project))),
                Ok(_) => {}
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => return Err(CallError::Io("timed out".into())),
                Err(e) => return Err(CallError::Io(e.to_string())),
            }
            let msg: ServerMessage = serde_json::from_str(&buf).map_err(|e| CallError::Io(format!("unreadable reply: {e}")))?;
            if msg.id != id && msg.id != 0 {
                continue;
            }
            if let Some(ev) = msg.event {
                on_event(ev);
                continue;
            }
            return match (msg.ok, msg.error) {
                (Some(true), _) => Ok(msg.result.unwrap_or(Value::Null)),
                (_, Some(e)) => Err(CallError::Server(e)),
                _ => Err(CallError::Io("a reply without result or error".into())),
            };
        }
    }

    /// Waits until the server closes the connection (after `down`, when the run is over).
    pub fn wait_closed(&mut self) {
        let _ = self.writer.set_read_timeout(None);
        let mut sink = String::new();
        while matches!(self.reader.read_line(&mut sink), Ok(n) if n > 0) {
            sink.clear();
        }
    }
}
