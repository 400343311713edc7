//! Requests: what a client asks of a running corral.

use serde::{Deserialize, Serialize};

use crate::response::{ErrorBody, ErrorCode, ServerMessage};
use crate::VERSION;

/// One request line: `{"v": 1, "id": 3, "command": "ps"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The protocol version; a server refuses any other.
    pub v: u32,
    /// The client's; the server's messages for this request carry it back.
    pub id: u64,
    #[serde(flatten)]
    pub command: RequestCommand,
}

impl Request {
    pub fn new(id: u64, command: RequestCommand) -> Request {
        Request { v: VERSION, id, command }
    }

    /// One line of JSON, newline included.
    pub fn to_line(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec(self).expect("requests serialize");
        v.push(b'\n');
        v
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum RequestCommand {
    /// Who is serving: [`crate::Response::Hello`].
    Hello,
    /// Every process's state: [`crate::Response::Processes`].
    Ps,
    /// Recent output, then (with `follow`) new output as it comes, as
    /// [`crate::Event::Log`] events; then [`crate::Response::Done`].
    Logs {
        /// Which processes (all when empty).
        #[serde(default)]
        names: Vec<String>,
        #[serde(default = "default_lines")]
        lines: usize,
        #[serde(default)]
        follow: bool,
    },
    /// Start processes (and, first, what they depend on): [`crate::Response::Started`].
    Start { names: Vec<String> },
    /// Stop processes (and, first, what depends on them): [`crate::Response::Stopped`] once stopped.
    Stop { names: Vec<String> },
    /// Stop, then start again: [`crate::Response::Stopped`] once stopped and started.
    Restart { names: Vec<String> },
    /// Answers [`crate::Response::Ready`] when every process is ready (or
    /// has completed), an error when one failed.
    Wait,
    /// Streams every state change and output line until the run ends; with a
    /// `process` (an `is_tty` one), that process's terminal instead: its bytes
    /// as [`crate::Event::Terminal`] until it exits, while `input` and `resize`
    /// sent on the same connection reach it.
    Attach {
        /// The process whose terminal to attach to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        process: Option<String>,
        /// The client's window size, given to the process's terminal.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        window: Option<WindowSize>,
    },
    /// Keystrokes for the process attached to on this connection (no answer).
    Input { data: Vec<u8> },
    /// The client's window changed size (no answer while attached).
    Resize { window: WindowSize },
    /// Stop the whole run in order; the connection closes when it is over.
    Down,
    /// Every process with its resource figures (CPU, memory), as a
    /// [`crate::Event::Snapshot`] once a second, until the run ends
    /// ([`crate::Response::Done`]). Figures are sampled only while someone asks.
    Top,
    /// Run `replicas` copies of process `name` (as written, e.g. `api` for
    /// `api-0`, `api-1`): new replicas are added (and started), the
    /// highest-numbered ones stopped and removed: [`crate::Response::Scaled`].
    Scale { name: String, replicas: u32 },
}

impl RequestCommand {
    /// `attach` to the whole set's events.
    pub fn attach() -> RequestCommand {
        RequestCommand::Attach { process: None, window: None }
    }
}

/// A terminal's size, for attaching to a process's pseudo-terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSize {
    pub cols: u16,
    pub rows: u16,
}

fn default_lines() -> usize {
    100
}

/// A request line that could not be read: the error to send back, with the
/// request's id when it had one (0 otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRequest {
    pub id: u64,
    pub error: ErrorBody,
}

impl BadRequest {
    fn new(id: u64, code: ErrorCode, message: impl Into<String>) -> BadRequest {
        BadRequest { id, error: ErrorBody { code, message: message.into() } }
    }
}

impl From<BadRequest> for ServerMessage {
    fn from(b: BadRequest) -> ServerMessage {
        ServerMessage::reply(b.id, Err(b.error))
    }
}

/// Parses one request line.
pub fn parse_request(line: &[u8]) -> Result<Request, BadRequest> {
    let value: serde_json::Value = serde_json::from_slice(line).map_err(|e| BadRequest::new(0, ErrorCode::BadRequest, format!("not JSON: {e}")))?;
    let id = value.get("id").and_then(|i| i.as_u64()).unwrap_or(0);
    match value.get("v").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(VERSION) => {}
        Some(v) => return Err(BadRequest::new(id, ErrorCode::UnsupportedVersion, format!("this corral speaks protocol version {VERSION}, the request says {v}"))),
        None => return Err(BadRequest::new(id, ErrorCode::BadRequest, "missing protocol version \"v\"")),
    }
    serde_json::from_value(value).map_err(|e| BadRequest::new(id, ErrorCode::BadRequest, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(b: BadRequest) -> (u64, ErrorCode, String) {
        let m = ServerMessage::from(b);
        let e = m.error.unwrap();
        (m.id, e.code, e.message)
    }

    #[test]
    fn requests_round_trip() {
        let r = Request::new(3, RequestCommand::Logs { names: vec!["api".into()], lines: 10, follow: true });
        assert_eq!(parse_request(&r.to_line()).unwrap(), r);
        assert_eq!(parse_request(br#"{"v":1,"id":1,"command":"ps"}"#).unwrap().command, RequestCommand::Ps);
        assert_eq!(parse_request(br#"{"v":1,"id":2,"command":"logs"}"#).unwrap().command, RequestCommand::Logs { names: vec![], lines: 100, follow: false });
        assert_eq!(parse_request(br#"{"v":1,"id":2,"command":"attach"}"#).unwrap().command, RequestCommand::attach());
        assert_eq!(String::from_utf8(Request::new(8, RequestCommand::attach()).to_line()).unwrap(), "{\"v\":1,\"id\":8,\"command\":\"attach\"}\n");
        assert_eq!(
            parse_request(br#"{"v":1,"id":3,"command":"scale","name":"api","replicas":3}"#).unwrap().command,
            RequestCommand::Scale { name: "api".into(), replicas: 3 }
        );
    }

    #[test]
    fn bad_requests_get_error_responses_with_their_id() {
        let (id, c, _) = code(parse_request(b"garbage").unwrap_err());
        assert_eq!((id, c), (0, ErrorCode::BadRequest));
        let (id, c, msg) = code(parse_request(br#"{"v":1,"id":9,"command":"explode"}"#).unwrap_err());
        assert_eq!((id, c), (9, ErrorCode::BadRequest));
        assert!(msg.contains("unknown variant `explode`"), "{msg}");
        assert_eq!(code(parse_request(br#"{"v":2,"id":4,"command":"ps"}"#).unwrap_err()).1, ErrorCode::UnsupportedVersion);
        assert!(code(parse_request(br#"{"id":4,"command":"ps"}"#).unwrap_err()).2.contains("missing protocol version"));
        assert!(code(parse_request(br#"{"v":1,"id":5,"command":"stop"}"#).unwrap_err()).2.contains("missing field `names`"));
    }
}
