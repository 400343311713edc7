//! Reads one process's output pipe and forwards bounded lines to the sink.

use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;

use super::lines::{LineSplitter, Lines};
use super::sink::{SinkHandle, SourceId};

/// Longest line shown whole; longer ones are cut into pieces of this size.
pub const MAX_LINE: usize = 32 * 1024;

/// Reads until end of file (every writer closed the pipe), then hands on the
/// final unterminated line, if any. Never stops early: lines are not dropped.
pub async fn forward(mut pipe: pipe::Receiver, source: SourceId, sink: SinkHandle) {
    let mut splitter = LineSplitter::new(MAX_LINE);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                let lines = splitter.push(&buf[..n]);
                if !lines.is_empty() {
                    sink.send(source, lines).await;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::debug!("reading output of source {source}: {e}");
                break;
            }
        }
    }
    if let Some(last) = splitter.finish() {
        sink.send(source, Lines::from_line(&last)).await;
    }
}
