//! The control protocol: newline-delimited JSON over a Unix socket.
//!
//! Every message is one JSON object on one line. A client sends requests; the
//! server answers each with exactly one response carrying the same `id`, and,
//! for streaming requests (`logs` with `follow`, `attach`), with events first.
//! Every message carries the protocol version `v`; a request of another
//! version gets an error. docs/control.md is the reference for clients.

use serde::{Deserialize, Serialize};

/// The protocol version this corral speaks.
pub const VERSION: u32 = 1;

/// Largest request line accepted (bytes, newline included).
pub const MAX_REQUEST: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub v: u32,
    pub id: u64,
    #[serde(flatten)]
    pub command: RequestCommand,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum RequestCommand {
    /// Who is serving: project, pid, version.
    Hello,
    /// Every process's state.
    Ps,
    /// Recent output, then (with `follow`) new output as it comes.
    Logs {
        #[serde(default)]
        names: Vec<String>,
        #[serde(default = "default_lines")]
        lines: usize,
        #[serde(default)]
        follow: bool,
    },
    /// Start processes (and, first, what they depend on).
    Start { names: Vec<String> },
    /// Stop processes (and, first, what depends on them).
    Stop { names: Vec<String> },
    /// Stop, then start again.
    Restart { names: Vec<String> },
    /// Answer when every process is ready (or has completed), or when one failed.
    Wait,
    /// Stream every state change and output line until the run ends.
    Attach,
    /// Stop the whole run in order; the connection closes when it is over.
    Down,
}

fn default_lines() -> usize {
    100
}

/// One process, as `ps` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessInfo {
    pub name: String,
    pub state: String,
    pub pid: Option<i32>,
    /// Seconds since the current run started.
    pub uptime_seconds: Option<u64>,
    pub restarts: u32,
    /// The last exit, as corral logs it ("status 1", "signal SIGTERM").
    pub exit: Option<String>,
    pub ready: bool,
    /// The last `STATUS=` the process sent with sd_notify.
    pub status: Option<String>,
    /// Why it failed or was skipped.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A line of a process's output (or of a hook: "pre_hook", "post_hook").
    Log { process: String, line: String },
    /// Lines this follower missed because it read too slowly.
    Skipped { lines: u64 },
    /// A process changed state.
    State { process: ProcessInfo },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// `bad_request`, `too_large`, `unsupported_version`, `unknown_process`, `failed`.
    pub code: String,
    pub message: String,
}

/// What the server sends: an event of a stream, or the one response to a request.
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
    pub result: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

impl ServerMessage {
    pub fn event(id: u64, event: Event) -> ServerMessage {
        ServerMessage { v: VERSION, id, event: Some(event), ok: None, result: None, error: None }
    }
    pub fn ok(id: u64, result: serde_json::Value) -> ServerMessage {
        ServerMessage { v: VERSION, id, event: None, ok: Some(true), result: Some(result), error: None }
    }
    pub fn error(id: u64, code: &str, message: impl Into<String>) -> ServerMessage {
        ServerMessage { v: VERSION, id, event: None, ok: Some(false), result: None, error: Some(ErrorBody { code: code.into(), message: message.into() }) }
    }
    /// One line of JSON, newline included.
    pub fn to_line(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec(self).expect("server messages serialize");
        v.push(b'\n');
        v
    }
}

/// Parses one request line; the error is the response to send.
pub fn parse_request(line: &[u8]) -> Result<Request, ServerMessage> {
    let value: serde_json::Value = serde_json::from_slice(line).map_err(|e| ServerMessage::error(0, "bad_request", format!("not JSON: {e}")))?;
    let id = value.get("id").and_then(|i| i.as_u64()).unwrap_or(0);
    match value.get("v").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(VERSION) => {}
        Some(v) => return Err(ServerMessage::error(id, "unsupported_version", format!("this corral speaks protocol version {VERSION}, the request says {v}"))),
        None => return Err(ServerMessage::error(id, "bad_request", "missing protocol version \"v\"")),
    }
    serde_json::from_value(value).map_err(|e| ServerMessage::error(id, "bad_request", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        let r = Request { v: 1, id: 3, command: RequestCommand::Logs { names: vec!["api".into()], lines: 10, follow: true } };
        let line = serde_json::to_vec(&r).unwrap();
        assert_eq!(parse_request(&line).unwrap(), r);
        assert_eq!(parse_request(br#"{"v":1,"id":1,"command":"ps"}"#).unwrap().command, RequestCommand::Ps);
        assert_eq!(
            parse_request(br#"{"v":1,"id":2,"command":"logs"}"#).unwrap().command,
            RequestCommand::Logs { names: vec![], lines: 100, follow: false }
        );
    }

    #[test]
    fn bad_requests_get_error_responses_with_their_id() {
        let e = parse_request(b"garbage").unwrap_err();
        assert_eq!((e.id, e.error.unwrap().code.as_str()), (0, "bad_request"));
        let e = parse_request(br#"{"v":1,"id":9,"command":"explode"}"#).unwrap_err();
        assert_eq!(e.id, 9);
        assert!(e.error.unwrap().message.contains("unknown variant `explode`"));
        let e = parse_request(br#"{"v":2,"id":4,"command":"ps"}"#).unwrap_err();
        assert_eq!(e.error.unwrap().code, "unsupported_version");
        let e = parse_request(br#"{"id":4,"command":"ps"}"#).unwrap_err();
        assert!(e.error.unwrap().message.contains("missing protocol version"));
        let e = parse_request(br#"{"v":1,"id":5,"command":"stop"}"#).unwrap_err();
        assert!(e.error.unwrap().message.contains("missing field `names`"));
    }

    #[test]
    fn messages_are_single_lines() {
        let m = ServerMessage::event(1, Event::Log { process: "a".into(), line: "x\ny".into() });
        let line = m.to_line();
        assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1);
        let back: ServerMessage = serde_json::from_slice(&line).unwrap();
        assert_eq!(back, m);
    }
}
