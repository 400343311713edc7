//! Process output: read from each process's pipe, split into bounded lines,
//! written labelled to stdout and raw to log files by one writer (in place by
//! the reader when nothing would wait, else on the sink's thread).
//!
//! A chatty process's output moves in batches, one per read, from end to end:
//! one allocation and one lock per batch, not per line; the ring for `logs`
//! keeps the batches themselves; stdout takes what is queued together and
//! writes it in 256 KiB pieces. What is left per byte is a newline scan
//! (memchr), a scan for bytes the terminal rule changes, and the copies.
//!
//! A process's stdout and stderr share one pipe, so their lines keep the order
//! the process wrote them in, as on a terminal.

pub mod feed;
pub mod lines;
mod log_queue;
pub mod reader;
pub mod rotate;
pub mod sink;
pub mod stdout;

pub use feed::{tail, tail_bounded, Feed, FeedLine};
pub use lines::{LineSplitter, Lines};
pub use reader::{forward, forward_watching, ReadyLine, MAX_LINE};
pub use rotate::{start_file_log, Policy as RotationPolicy};
pub use sink::{Sink, SinkConfig, SinkHandle, SourceId};
