//! Process output: read from each process's pipe, split into bounded lines,
//! written labelled to stdout and to log files by a single writer.
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
