//! A blocking client over a Unix socket: what `corral ps`, `logs`, `down` …
//! use, and what a third-party tool can use (no async runtime needed).

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::event::Event;
use crate::request::{Request, RequestCommand};
use crate::response::{ErrorBody, Response, ServerMessage};

pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    next_id: u64,
    line: String,
}

#[derive(Debug)]
pub enum CallError {
    /// The server answered with an error.
    Server(ErrorBody),
    /// No reply within the time set with [`Client::set_timeout`].
    TimedOut,
    /// The server closed the connection (for `attach` and `logs -f`: the run ended).
    Closed,
    /// The connection broke, or the server sent something unreadable.
    Io(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Server(e) => f.write_str(&e.message),
            CallError::TimedOut => f.write_str("timed out"),
            CallError::Closed => f.write_str("the server closed the connection"),
            CallError::Io(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for CallError {}

impl Client {
    /// Connects to the control socket at `path`.
    pub fn connect(path: &Path) -> io::Result<Client> {
        let stream = UnixStream::connect(path)?;
        let reader = BufReader::new(stream.try_clone()?);
        Ok(Client { reader, writer: stream, next_id: 1, line: String::new() })
    }

    /// Gives up on a reply after `d` (None: wait as long as it takes).
    pub fn set_timeout(&mut self, d: Option<Duration>) {
        let _ = self.writer.set_read_timeout(d);
    }

    /// Sends one request; the events of a stream go to `on_event`; returns the response.
    pub fn call(&mut self, command: RequestCommand, mut on_event: impl FnMut(Event)) -> Result<Response, CallError> {
        let id = self.next_id;
        self.next_id += 1;
        self.writer.write_all(&Request::new(id, command).to_line()).map_err(|e| CallError::Io(e.to_string()))?;
        loop {
            let mut msg = self.read()?;
            // 0: a reply to a request the server could not read (ours, since we send one at a time).
            if msg.id != id && msg.id != 0 {
                continue;
            }
            match msg.event.take() {
                Some(ev) => on_event(ev),
                None => return msg.into_reply().expect("not an event").map_err(CallError::Server),
            }
        }
    }

    fn read(&mut self) -> Result<ServerMessage, CallError> {
        self.line.clear();
        match self.reader.read_line(&mut self.line) {
            Ok(0) => Err(CallError::Closed),
            Ok(_) => serde_json::from_str(&self.line).map_err(|e| CallError::Io(format!("unreadable message: {e}"))),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => Err(CallError::TimedOut),
            Err(e) => Err(CallError::Io(e.to_string())),
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
