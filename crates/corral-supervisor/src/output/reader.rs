//! Reads one process's output pipe and forwards bounded lines to the sink.

use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;

use super::lines::{LineSplitter, Lines};
use super::sink::{SinkHandle, SourceId};

/// Longest line shown whole; longer ones are cut into pieces of this size.
pub const MAX_LINE: usize = 32 * 1024;

/// Bytes asked for per read: MIN_READ at first, doubled up to MAX_READ (a
/// pipe's capacity) while reads fill it, halved again while they do not.
const MIN_READ: usize = 4 * 1024;
const MAX_READ: usize = 64 * 1024;

/// Watches output for a substring (`ready_log_line`) and calls back once.
pub struct ReadyLine {
    pub needle: String,
    pub on_seen: Box<dyn FnOnce() + Send>,
}

impl ReadyLine {
    fn check(slot: &mut Option<ReadyLine>, lines: &Lines) {
        let seen = slot.as_ref().is_some_and(|r| lines.iter().any(|l| contains(l, r.needle.as_bytes())));
        if seen {
            (slot.take().expect("checked above").on_seen)();
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

/// Reads until end of file (every writer closed the pipe), then hands on the
/// final unterminated line, if any. Never stops early: lines are not dropped.
pub async fn forward(pipe: pipe::Receiver, source: SourceId, sink: SinkHandle) {
    forward_watching(pipe, source, sink, None).await
}

/// [`forward`], calling `ready` back the first time its substring appears in a line.
pub async fn forward_watching(mut pipe: pipe::Receiver, source: SourceId, sink: SinkHandle, mut ready: Option<ReadyLine>) {
    let mut splitter = LineSplitter::new(MAX_LINE);
    // Nothing until the process first writes (many never do); then small,
    // doubled up to a pipe's capacity for one whose output fills it.
    if pipe.readable().await.is_err() {
        return;
    }
    let mut size = MIN_READ;
    loop {
        // Read into the batch's own buffer (the splitter keeps it when its lines need no change).
        let mut buf = splitter.buffer(size);
        match pipe.read_buf(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                if n == size && size < MAX_READ {
                    size *= 2;
                } else if n < size / 4 && size > MIN_READ {
                    size /= 2;
                }
                let lines = splitter.split(buf);
                ReadyLine::check(&mut ready, &lines);
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
        let lines = Lines::from_line(&last);
        ReadyLine::check(&mut ready, &lines);
        sink.send(source, lines).await;
    }
}
