//! Events: what a streaming request (`logs`, `attach`) receives before its response.

use serde::{Deserialize, Serialize};

use crate::process::ProcessInfo;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A line of a process's output (or of a hook: "pre_hook", "post_hook").
    Log { process: String, line: String },
    /// Output lines this follower missed because it read too slowly.
    Skipped { lines: u64 },
    /// A process changed: its state, readiness, restarts, exit, or sd_notify status.
    State { process: ProcessInfo },
    /// Every process as it is now. Sent to a follower that read too slowly to
    /// be sent every change: it replaces whatever the follower knew, so a
    /// slow client is late, never wrong.
    Snapshot { processes: Vec<ProcessInfo> },
    /// Bytes the attached process wrote to its terminal (`attach` with a `process`).
    Terminal { data: Vec<u8> },
}
