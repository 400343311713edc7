//! corral's control protocol, for every client of a running corral: the CLI
//! (`corral ps`, `logs`, `attach` …), the server inside `corral up`, a
//! dashboard, and third-party tools.
//!
//! It depends on serde (and serde_json, the wire format) only: no async
//! runtime, no system crates, so a client is a small program. The wire format
//! is newline-delimited JSON over a Unix socket, one object per line, every
//! message carrying the protocol version `v` (docs/control.md is the
//! reference):
//!
//! - [`Request`]: what a client asks ([`RequestCommand`]);
//! - [`ServerMessage`]: what the server sends back: [`Event`]s of a stream
//!   first, then exactly one [`Response`] or [`ErrorBody`];
//! - [`ProcessInfo`]: one process as `ps` shows it, with its [`ProcessState`]
//!   and last [`Exit`] as typed values;
//! - [`Client`]: a blocking client over `std::os::unix::net`.

mod client;
mod event;
mod process;
mod request;
mod response;

pub use client::{CallError, Client};
pub use event::Event;
pub use process::{Containment, Exit, ProcessInfo, ProcessState, ResourceUsage};
pub use request::{parse_request, BadRequest, Request, RequestCommand, WindowSize};
pub use response::{ErrorBody, ErrorCode, Hello, Reply, Response, ServerMessage};

/// The protocol version this crate speaks.
pub const VERSION: u32 = 1;

/// Largest request line a server accepts (bytes, newline included).
pub const MAX_REQUEST: usize = 64 * 1024;
