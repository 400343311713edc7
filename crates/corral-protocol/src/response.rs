//! Responses: the one answer to each request, and the message envelope.

use serde::{Deserialize, Serialize};

use crate::event::Event;
use crate::process::ProcessInfo;
use crate::VERSION;

/// The result of a request that succeeded. Which variant answers which
/// request is fixed (see [`crate::RequestCommand`]); on the wire the result
/// is the bare value (`[…]`, `{"started": […]}`, `null`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Response {
    /// `ps`.
    Processes(Vec<ProcessInfo>),
    /// `hello`.
    Hello(Hello),
    /// `start`: what was started (at once).
    Started { started: Vec<String> },
    /// `stop`, `restart`: what was stopped, once it has stopped.
    Stopped { stopped: Vec<String> },
    /// `down`: the run is stopping; the connection closes when it is over.
    Stopping { stopping: bool },
    /// `wait`: every process is ready.
    Ready { ready: bool },
    /// `scale`: the replicas of the process now (added ones starting, removed ones stopping).
    Scaled { replicas: Vec<String> },
    /// The end of a stream (`logs`, `attach`).
    Done,
}

/// Who is serving.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The project's id (see docs/control.md).
    pub project: String,
    pub pid: u32,
    /// corral's version.
    pub version: String,
    /// The protocol version, [`VERSION`].
    pub protocol: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, an unknown command, a missing field.
    BadRequest,
    /// The request line was longer than [`crate::MAX_REQUEST`]; the connection is closed.
    TooLarge,
    UnsupportedVersion,
    UnknownProcess,
    /// The connection comes from another user.
    PermissionDenied,
    /// The request was understood but could not be carried out.
    Failed,
    /// Part of the protocol this server does not implement yet.
    Unsupported,
    /// The server has as many connections as it takes; try again later.
    Busy,
    /// A code this client does not know (a newer server).
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
}

impl std::fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A request's outcome.
pub type Reply = Result<Response, ErrorBody>;

/// What the server sends: an event of a stream, or the one response to a
/// request (`ok` with `result`, or `error`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerMessage {
    pub v: u32,
    /// The request this answers; 0 when the request could not be read at all.
    pub id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Event>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Response>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

impl ServerMessage {
    pub fn event(id: u64, event: Event) -> ServerMessage {
        ServerMessage { v: VERSION, id, event: Some(event), ok: None, result: None, error: None }
    }

    pub fn reply(id: u64, reply: Reply) -> ServerMessage {
        match reply {
            Ok(r) => ServerMessage { v: VERSION, id, event: None, ok: Some(true), result: Some(r), error: None },
            Err(e) => ServerMessage { v: VERSION, id, event: None, ok: Some(false), result: None, error: Some(e) },
        }
    }

    pub fn ok(id: u64, result: Response) -> ServerMessage {
        ServerMessage::reply(id, Ok(result))
    }

    pub fn error(id: u64, code: ErrorCode, message: impl Into<String>) -> ServerMessage {
        ServerMessage::reply(id, Err(ErrorBody { code, message: message.into() }))
    }

    /// One line of JSON, newline included.
    pub fn to_line(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec(self).expect("server messages serialize");
        v.push(b'\n');
        v
    }

    /// The response this message carries: None for an event.
    pub fn into_reply(self) -> Option<Reply> {
        if self.event.is_some() {
            return None;
        }
        Some(match (self.ok, self.error) {
            (_, Some(e)) => Err(e),
            // `null` reads back as a missing field.
            (Some(true), None) => Ok(self.result.unwrap_or(Response::Done)),
            (_, None) => Err(ErrorBody { code: ErrorCode::Other, message: "a reply without result or error".into() }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::{Exit, ProcessState};

    fn round_trip(r: Response) {
        let line = ServerMessage::ok(4, r.clone()).to_line();
        let back: ServerMessage = serde_json::from_slice(&line).unwrap();
        assert_eq!(back.into_reply(), Some(Ok(r)), "{}", String::from_utf8_lossy(&line));
    }

    #[test]
    fn every_response_reads_back_as_itself() {
        let p = ProcessInfo {
            name: "db".into(),
            state: ProcessState::Failed,
            pid: None,
            uptime_seconds: None,
            restarts: 2,
            exit: Some(Exit::Code(1)),
            ready: false,
            status: Some("x".into()),
            reason: Some("exited with status 1".into()),
            ports: [("http".to_string(), 8001)].into(),
            replica: None,
            containment: None,
            resources: None,
            restart_in_ms: Some(1500),
            readiness_check: Some(true),
            depends_on: vec!["cache".into()],
            namespaces: vec!["data".into()],
        };
        round_trip(Response::Processes(vec![p]));
        round_trip(Response::Processes(vec![]));
        round_trip(Response::Hello(Hello { project: "p-1".into(), pid: 3, version: "0.1.0".into(), protocol: VERSION }));
        round_trip(Response::Started { started: vec!["a".into()] });
        round_trip(Response::Stopped { stopped: vec![] });
        round_trip(Response::Stopping { stopping: true });
        round_trip(Response::Ready { ready: true });
        round_trip(Response::Done);
    }

    #[test]
    fn the_wire_is_what_docs_control_md_shows() {
        assert_eq!(String::from_utf8(ServerMessage::ok(5, Response::Stopped { stopped: vec!["api".into(), "db".into()] }).to_line()).unwrap(), "{\"v\":1,\"id\":5,\"ok\":true,\"result\":{\"stopped\":[\"api\",\"db\"]}}\n");
        assert_eq!(String::from_utf8(ServerMessage::ok(3, Response::Done).to_line()).unwrap(), "{\"v\":1,\"id\":3,\"ok\":true,\"result\":null}\n");
        let e = ServerMessage::error(7, ErrorCode::UnknownProcess, "unknown process \"x\"");
        assert_eq!(String::from_utf8(e.to_line()).unwrap(), "{\"v\":1,\"id\":7,\"ok\":false,\"error\":{\"code\":\"unknown_process\",\"message\":\"unknown process \\\"x\\\"\"}}\n");
        let unknown: ErrorBody = serde_json::from_str(r#"{"code":"from_the_future","message":"m"}"#).unwrap();
        assert_eq!(unknown.code, ErrorCode::Other);
    }

    #[test]
    fn events_are_single_lines() {
        let m = ServerMessage::event(1, Event::Log { process: "a".into(), line: "x\ny".into() });
        let line = m.to_line();
        assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1);
        let back: ServerMessage = serde_json::from_slice(&line).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.into_reply(), None);
    }
}
