//! The one place process output is written: corral's stdout (labelled, coloured
//! on a terminal) and the log files.
//!
//! It runs on its own OS thread. A slow or stuck consumer of corral's stdout
//! (a paused pager, a full pipe) then slows the processes through their pipes,
//! as a terminal would, but never stalls the async runtime that handles
//! signals and shutdown. If stdout goes away (EPIPE), corral says so once and
//! keeps supervising and writing the log files.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::mpsc;

use super::lines::Lines;

/// Identifies an output source: a process (by plan index) or a hook.
pub type SourceId = usize;

pub struct SinkConfig {
    /// Labels by source id.
    pub labels: Vec<String>,
    /// Per-source log files (unlabelled lines), by source id.
    pub files: Vec<Option<PathBuf>>,
    /// A file receiving every line, labelled.
    pub combined: Option<PathBuf>,
    pub color: bool,
    /// Receives every line too, for the control socket.
    pub feed: Option<std::sync::Arc<super::feed::Feed>>,
}

/// A cheap handle the readers send batches through.
#[derive(Clone)]
pub struct SinkHandle {
    tx: mpsc::Sender<(SourceId, Lines)>,
}

impl SinkHandle {
    /// Sends a batch; waits (asynchronously) while the sink is behind.
    pub async fn send(&self, source: SourceId, lines: Lines) {
        let _ = self.tx.send((source, lines)).await;
    }
}

pub struct Sink {
    handle: SinkHandle,
    thread: JoinHandle<()>,
}

/// ANSI colours for labels, chosen to be readable on dark and light backgrounds.
const PALETTE: &[&str] = &["36", "33", "32", "35", "34", "96", "93", "92", "95", "94"];

/// Messages in flight between readers and the sink. Enough to absorb bursts
/// from many processes; small enough that a stuck stdout holds little memory.
const QUEUE: usize = 64;

impl Sink {
    /// Opens the log files (creating parent directories) and starts the thread.
    pub fn start(config: SinkConfig) -> io::Result<Sink> {
        let width = config.labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        let mut prefixes = Vec::new();
        let mut plain = Vec::new();
        for (i, label) in config.labels.iter().enumerate() {
            let padded = format!("{label:<width$}");
            plain.push(format!("{padded} | ").into_bytes());
            prefixes.push(if config.color {
                format!("\x1b[{}m{padded}\x1b[0m | ", PALETTE[i % PALETTE.len()]).into_bytes()
            } else {
                format!("{padded} | ").into_bytes()
            });
        }
        let files = config
            .files
            .iter()
            .map(|f| f.as_deref().map(open_log).transpose())
            .collect::<io::Result<Vec<_>>>()?;
        let combined = config.combined.as_deref().map(open_log).transpose()?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let writer = Writer {
            // An owned duplicate of fd 1: unbuffered by std's line-buffered Stdout,
            // close-on-exec, and closing it does not close corral's stdout.
            stdout: io::stdout().as_fd().try_clone_to_owned().ok().map(|fd| BufWriter::with_capacity(64 * 1024, File::from(fd))),
            prefixes,
            plain,
            files: files.into_iter().map(|f| f.map(LogFile::new)).collect(),
            combined: combined.map(LogFile::new),
            feed: config.feed.clone(),
            scratch: Vec::new(),
        };
        let thread = std::thread::Builder::new().name("corral-output".into()).spawn(move || writer.run(rx))?;
        Ok(Sink { handle: SinkHandle { tx }, thread })
    }

    pub fn handle(&self) -> SinkHandle {
        self.handle.clone()
    }

    /// Waits until every handle is gone (readers reached end of file) and the
    /// thread has written and flushed everything, for at most `bound`. Awaits
    /// instead of blocking, so the tasks holding handles can finish meanwhile.
    pub async fn close(self, bound: Duration) {
        drop(self.handle);
        let deadline = tokio::time::Instant::now() + bound;
        while !self.thread.is_finished() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        if self.thread.is_finished() {
            let _ = self.thread.join();
        } else {
            tracing::warn!("output did not drain within {bound:?} (stdout blocked, or a pipe still held open); exiting without the rest");
        }
    }
}

fn open_log(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot create log directory {}: {e}", dir.display())))?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot open log file {}: {e}", path.display())))
}

/// A log file that stops being written after its first error, saying so once.
struct LogFile {
    out: BufWriter<File>,
    failed: bool,
}

impl LogFile {
    fn new(f: File) -> LogFile {
        LogFile { out: BufWriter::with_capacity(64 * 1024, f), failed: false }
    }
    fn write(&mut self, parts: &[&[u8]]) {
        if self.failed {
            return;
        }
        if let Err(e) = parts.iter().try_for_each(|p| self.out.write_all(p)) {
            self.fail(e);
        }
    }
    fn flush(&mut self) {
        if !self.failed {
            if let Err(e) = self.out.flush() {
                self.fail(e);
            }
        }
    }
    fn fail(&mut self, e: io::Error) {
        self.failed = true;
        tracing::error!("cannot write a log file: {e}; its processes keep running, this file gets no more lines");
    }
}

struct Writer {
    stdout: Option<BufWriter<File>>,
    prefixes: Vec<Vec<u8>>,
    plain: Vec<Vec<u8>>,
    files: Vec<Option<LogFile>>,
    combined: Option<LogFile>,
    feed: Option<std::sync::Arc<super::feed::Feed>>,
    /// Reused for the terminal-safe form of each line.
    scratch: Vec<u8>,
}

impl Writer {
    fn run(mut self, mut rx: mpsc::Receiver<(SourceId, Lines)>) {
        while let Some((src, lines)) = rx.blocking_recv() {
            self.write(src, &lines);
            // Write everything already queued before paying for a flush.
            while let Ok((src, lines)) = rx.try_recv() {
                self.write(src, &lines);
            }
            self.flush();
        }
        self.flush();
    }

    fn write(&mut self, src: SourceId, lines: &Lines) {
        if let Some(out) = &mut self.stdout {
            let prefix = &self.prefixes[src];
            let scratch = &mut self.scratch;
            let res = lines.iter().try_for_each(|l| {
                // Labelled lines are made terminal-safe (see `terminal`); log files get the raw bytes.
                scratch.clear();
                super::terminal::sanitize_into(l, scratch);
                out.write_all(prefix)?;
                out.write_all(scratch)?;
                out.write_all(b"\n")
            });
            if let Err(e) = res {
                self.stdout_failed(e);
            }
        }
        if let Some(Some(f)) = self.files.get_mut(src) {
            for l in lines.iter() {
                f.write(&[l, b"\n"]);
            }
        }
        if let Some(f) = &mut self.combined {
            for l in lines.iter() {
                f.write(&[&self.plain[src], l, b"\n"]);
            }
        }
        if let Some(feed) = &self.feed {
            for l in lines.iter() {
                feed.push(src, l);
            }
        }
    }

    fn flush(&mut self) {
        if let Some(out) = &mut self.stdout {
            if let Err(e) = out.flush() {
                self.stdout_failed(e);
            }
        }
        self.files.iter_mut().flatten().for_each(LogFile::flush);
        if let Some(f) = &mut self.combined {
            f.flush();
        }
    }

    fn stdout_failed(&mut self, e: io::Error) {
        // Drop the buffer without flushing it again: that would fail the same way.
        if let Some(w) = self.stdout.take() {
            let (_file, _unflushed) = w.into_parts();
        }
        tracing::warn!("stdout is no longer writable ({e}); processes keep running and log files are still written");
    }
}
