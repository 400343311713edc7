//! The one place process output is written: corral's stdout (labelled, coloured
//! on a terminal), the log files and the `logs` ring.
//!
//! It runs on its own OS thread, so a slow disk never stalls the async runtime
//! that handles signals and shutdown. A batch that every destination has room
//! for is written in place by the reader instead (it cannot block then: see
//! [`SinkHandle::send`]), which spares the thread a wake-up per batch, the
//! largest cost of a chatty process's output. Each log file has a thread of its own
//! behind a bounded queue ([`super::log_queue`]), so a file whose writes block
//! (a FIFO whose reader stalls) holds up no other file and not the ring. stdout has a thread of its own behind a
//! bounded queue ([`super::stdout`]): a stdout nobody reads delays the log
//! files and the ring by a bounded time, then loses its own lines only.
//! Log files are opened off the runtime with a deadline ([`open_logs`]): a
//! FIFO without a reader or a stalled mount is a clear error, not a hang.
//! Files with a rotation policy are rotated by the thread that writes them, and
//! their old backups tidied by a helper thread ([`super::rotate`]).

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::mpsc;

use super::lines::Lines;
use super::log_queue::{Destination, QueuedLog};
use super::rotate::{Mill, Policy, Rotator};
use super::stdout::Stdout;

/// Identifies an output source: a process (by plan index) or a hook.
pub type SourceId = usize;

pub struct SinkConfig {
    /// Labels by source id.
    pub labels: Vec<String>,
    /// Per-source log files (unlabelled lines), by source id.
    pub files: Vec<Option<PathBuf>>,
    /// How each per-source log file is rotated (by source id; missing = never).
    pub rotations: Vec<Option<Policy>>,
    /// A file receiving every line, labelled.
    pub combined: Option<PathBuf>,
    pub combined_rotation: Option<Policy>,
    /// corral's stdout is this file (a detached run's output log): rotate it so.
    pub stdout_file: Option<(PathBuf, Policy)>,
    pub color: bool,
    /// Receives every line too, for the control socket.
    pub feed: Option<std::sync::Arc<super::feed::Feed>>,
}

/// Sources added after the start (id, label, log file), not yet taken by the writer.
type Added = Arc<Mutex<Vec<(SourceId, String, Option<PathBuf>)>>>;

/// A cheap handle the readers send batches through.
#[derive(Clone)]
pub struct SinkHandle {
    tx: mpsc::Sender<(SourceId, Lines)>,
    /// The writer, for batches written in place (see [`SinkHandle::send`]).
    direct: Arc<Direct>,
    /// Sources added after the start, not yet taken by the writer.
    added: Added,
    feed: Option<Arc<super::feed::Feed>>,
}

impl SinkHandle {
    /// The feed of the control socket, when this run serves one.
    pub fn feed(&self) -> Option<&Arc<super::feed::Feed>> {
        self.feed.as_ref()
    }

    /// Adds source `id` (a replica added by `scale`; ids follow the existing
    /// ones in order), with its label and log file, before any of its lines.
    pub fn add_source(&self, id: SourceId, label: &str, file: Option<PathBuf>) {
        if let Some(feed) = &self.feed {
            feed.add_source(id, label, file.clone());
        }
        self.added.lock().unwrap().push((id, label.to_string(), file));
    }

    /// Hands over a batch; waits (asynchronously) while the sink is behind.
    ///
    /// A batch every destination has room for, while nothing waits for the
    /// sink's thread, is written in place: that never blocks (room is there,
    /// and the writer is only tried, never waited for), and it spares the
    /// thread a wake-up per batch, which cost more than the writing. Any
    /// other batch goes through the thread, which may wait for room; once one
    /// of a source's batches does, that source's later batches follow it
    /// there until the thread has written it, so each source's lines keep
    /// their order (other sources go on writing in place).
    pub async fn send(&self, source: SourceId, lines: Lines) {
        let lines = match self.direct.try_write(source, lines) {
            Ok(false) => return,
            // Written, but a log file's queue was full: its thread must hand the rest over.
            Ok(true) => Lines::none(),
            Err(lines) => lines,
        };
        self.direct.queue(source);
        // Boxed: the reader's future (one per process, for the whole run) stays small.
        if Box::pin(self.tx.send((source, lines))).await.is_err() {
            self.direct.dequeue(source);
        }
    }
}

/// The writer, shared by the sink's thread and the readers' direct path.
struct Direct {
    writer: Mutex<Writer>,
    /// Each source's batches handed to the thread and not yet written
    /// (sources added at run time always go through the thread).
    queued: Box<[AtomicUsize]>,
}

impl Direct {
    fn queue(&self, source: SourceId) {
        if let Some(n) = self.queued.get(source) {
            n.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn dequeue(&self, source: SourceId) {
        if let Some(n) = self.queued.get(source) {
            n.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Whether `source` may write in place: none of its batches waits for the thread.
    fn clear(&self, source: SourceId) -> bool {
        self.queued.get(source).is_some_and(|n| n.load(Ordering::SeqCst) == 0)
    }

    /// Writes `lines` in place if nothing would wait. `Ok(true)`: written, but
    /// a log file kept part of it (its queue was full) for the thread to hand over.
    fn try_write(&self, source: SourceId, lines: Lines) -> Result<bool, Lines> {
        if !self.clear(source) {
            return Err(lines);
        }
        let Ok(mut writer) = self.writer.try_lock() else { return Err(lines) };
        // Checked again under the lock: the thread may have been handed one meanwhile.
        if !self.clear(source) {
            return Err(lines);
        }
        if writer.has_backlog() {
            return Err(lines);
        }
        writer.try_write(source, lines)?;
        Ok(writer.has_backlog())
    }
}

pub struct Sink {
    handle: SinkHandle,
    thread: JoinHandle<()>,
    /// Resolves (closed) when the thread ends, so `close` need not poll.
    done: tokio::sync::oneshot::Receiver<()>,
    /// The rotation helper, when a file is rotated: it ends after the writers.
    mill: Option<JoinHandle<()>>,
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
        let (files, combined) = open_logs(&config.files, config.combined.as_deref())?;
        let rotated = config.rotations.iter().zip(&files).any(|(r, f)| r.is_some() && f.is_some())
            || (config.combined_rotation.is_some() && combined.is_some())
            || config.stdout_file.is_some();
        let (mill, mill_thread) = if rotated { Mill::start().map(|(m, t)| (Some(m), Some(t)))? } else { (None, None) };
        let rotator = |path: &Path, policy: Option<Policy>| Some(Rotator::new(path, policy?, mill.clone()?, None));
        // Each log file on a thread of its own behind a bounded queue (see `log_queue`);
        // it rotates between the batches of whole lines it is handed.
        let queued = |f: File, path: &Path, rot: Option<Rotator>| QueuedLog::start(LogFile::new(f, rot), path.display().to_string());
        let files = files
            .into_iter()
            .enumerate()
            .map(|(i, f)| match (f, config.files[i].as_deref()) {
                (Some(f), Some(path)) => queued(f, path, rotator(path, config.rotations.get(i).copied().flatten())).map(|q| Some(Box::new(q))),
                _ => Ok(None),
            })
            .collect::<io::Result<Vec<_>>>()?;
        let combined = match (combined, config.combined.as_deref()) {
            (Some(f), Some(path)) => Some(queued(f, path, rotator(path, config.combined_rotation))?),
            _ => None,
        };
        let stdout_rotation = config.stdout_file.clone().zip(mill.clone()).map(|((path, policy), mill)| (path, policy, mill));
        drop(mill);
        let (tx, rx) = mpsc::channel(QUEUE);
        let added = Arc::default();
        let writer = Writer {
            added: Arc::clone(&added),
            color: config.color,
            stdout: Stdout::start(prefixes, stdout_rotation)?,
            plain,
            files,
            combined,
            feed: config.feed.clone(),
        };
        let queued = (0..config.labels.len()).map(|_| AtomicUsize::new(0)).collect();
        let direct = Arc::new(Direct { writer: Mutex::new(writer), queued });
        let shared = direct.clone();
        let (done_tx, done) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new().name("corral-output".into()).spawn(move || {
            let _done = done_tx;
            Writer::run(&shared, rx)
        })?;
        Ok(Sink { handle: SinkHandle { tx, direct, added, feed: config.feed.clone() }, thread, done, mill: mill_thread })
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
        if tokio::time::timeout_at(deadline, self.done).await.is_ok() {
            let _ = self.thread.join();
        } else {
            tracing::warn!("output did not drain within {bound:?} (stdout blocked, or a pipe still held open); exiting without the rest");
        }
        // The last tidying of rotated backups (compression included), within the same bound.
        if let Some(mill) = self.mill {
            while !mill.is_finished() && tokio::time::Instant::now() < deadline + bound {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            if mill.is_finished() {
                let _ = mill.join();
            } else {
                tracing::warn!("log rotation: backups still being compressed; the next run finishes them");
            }
        }
    }
}

/// How long opening the log files (and creating their directories) may take.
const OPEN_BOUND: Duration = Duration::from_secs(5);

/// Opens every log file on a helper thread, for at most [`OPEN_BOUND`]: an
/// `open()` that blocks (a FIFO nobody reads, a stalled network mount) must
/// not hang corral, which cannot even act on a signal meanwhile. The error
/// names the path that did not open.
fn open_logs(files: &[Option<PathBuf>], combined: Option<&Path>) -> io::Result<(Vec<Option<File>>, Option<File>)> {
    let paths: Vec<PathBuf> = files.iter().flatten().cloned().chain(combined.map(Path::to_path_buf)).collect();
    if paths.is_empty() {
        return Ok((files.iter().map(|_| None).collect(), None));
    }
    let at = std::sync::Arc::new(std::sync::Mutex::new(None::<PathBuf>));
    let (tx, rx) = std::sync::mpsc::channel();
    let current = at.clone();
    let files = files.to_vec();
    let combined = combined.map(Path::to_path_buf);
    // The thread is left behind if an open never returns; corral then exits anyway.
    std::thread::Builder::new().name("corral-open-logs".into()).spawn(move || {
        let mut open = |path: &Path| {
            *current.lock().unwrap() = Some(path.to_path_buf());
            open_log(path)
        };
        let result = (|| {
            let opened = files.iter().map(|f| f.as_deref().map(&mut open).transpose()).collect::<io::Result<Vec<_>>>()?;
            let combined = combined.as_deref().map(&mut open).transpose()?;
            Ok((opened, combined))
        })();
        let _ = tx.send(result);
    })?;
    match rx.recv_timeout(OPEN_BOUND) {
        Ok(result) => result,
        Err(_) => {
            let path = at.lock().unwrap().clone().unwrap_or_default();
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("cannot open log file {}: still blocked after {OPEN_BOUND:?} (a FIFO without a reader, or a stalled mount?)", path.display()),
            ))
        }
    }
}

pub(super) fn open_log(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot create log directory {}: {e}", dir.display())))?;
    }
    // O_NONBLOCK: a FIFO without a reader fails at once (ENXIO) instead of blocking.
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(nix::libc::ENXIO) => io::Error::new(e.kind(), format!("cannot open log file {}: it is a FIFO with no reader", path.display())),
            _ => io::Error::new(e.kind(), format!("cannot open log file {}: {e}", path.display())),
        })?;
    // Writes block as usual once open (a FIFO with a reader is a valid log destination).
    let flags = nix::fcntl::fcntl(std::os::fd::AsRawFd::as_raw_fd(&file), nix::fcntl::FcntlArg::F_GETFL).map_err(io::Error::from)?;
    let flags = nix::fcntl::OFlag::from_bits_truncate(flags) & !nix::fcntl::OFlag::O_NONBLOCK;
    nix::fcntl::fcntl(std::os::fd::AsRawFd::as_raw_fd(&file), nix::fcntl::FcntlArg::F_SETFL(flags)).map_err(io::Error::from)?;
    Ok(file)
}

/// A log file that stops being written after its first error, saying so once;
/// rotated before a line would take it past its bound, when it has a policy.
struct LogFile {
    out: BufWriter<File>,
    rotator: Option<Rotator>,
    failed: bool,
}

impl LogFile {
    fn new(f: File, rotator: Option<Rotator>) -> LogFile {
        LogFile { out: BufWriter::with_capacity(64 * 1024, f), rotator, failed: false }
    }
    /// Writes one line, given as parts (they never go to two files).
    fn write(&mut self, parts: &[&[u8]]) {
        if self.failed {
            return;
        }
        if let Some(r) = &mut self.rotator {
            if let Err(e) = r.before_write(parts.iter().map(|p| p.len()).sum(), &mut self.out) {
                return self.fail(e);
            }
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

impl Destination for LogFile {
    /// A batch of whole lines. With a rotation policy, line by line, so that the
    /// file rotates before the line that would take it past its bound (a line is
    /// never split between files); without one, in one write.
    fn write(&mut self, bytes: &[u8]) {
        if self.rotator.is_some() {
            for line in bytes.split_inclusive(|&b| b == b'\n') {
                LogFile::write(self, &[line]);
            }
        } else {
            LogFile::write(self, &[bytes]);
        }
    }
    fn flush(&mut self) {
        LogFile::flush(self);
    }
}

struct Writer {
    added: Added,
    color: bool,
    stdout: Option<Stdout>,
    plain: Vec<Vec<u8>>,
    /// By source id; boxed, so a source without a log file costs a pointer.
    files: Vec<Option<Box<QueuedLog>>>,
    combined: Option<QueuedLog>,
    feed: Option<std::sync::Arc<super::feed::Feed>>,
}

/// How long the log files may take for their last lines once the run is over.
const FILES_CLOSE_BOUND: Duration = Duration::from_secs(2);
/// How often a log file's backlog is offered again while its queue is full.
const BACKLOG_RETRY: Duration = Duration::from_millis(2);
const BACKLOG_RETRY_MAX: Duration = Duration::from_millis(50);
/// How long stdout may take for its last lines once the run is over.
const STDOUT_CLOSE_BOUND: Duration = Duration::from_secs(2);

impl Writer {
    /// The sink's thread: writes the batches handed to it (see [`SinkHandle::send`])
    /// until every handle is gone, then closes the files and stdout.
    fn run(direct: &Direct, mut rx: mpsc::Receiver<(SourceId, Lines)>) {
        let mut retry = BACKLOG_RETRY;
        loop {
            // A log file whose queue was full keeps a backlog: hand it over as
            // soon as its thread takes more, whether or not more lines come
            // (retrying less and less often while a stalled file takes nothing).
            let backlog = direct.writer.lock().unwrap().has_backlog();
            let next = if backlog {
                match rx.try_recv() {
                    Ok(m) => Some(m),
                    Err(mpsc::error::TryRecvError::Empty) => {
                        std::thread::sleep(retry);
                        retry = (retry * 2).min(BACKLOG_RETRY_MAX);
                        direct.writer.lock().unwrap().flush();
                        continue;
                    }
                    Err(mpsc::error::TryRecvError::Disconnected) => None,
                }
            } else {
                rx.blocking_recv()
            };
            let Some((src, lines)) = next else { break };
            retry = BACKLOG_RETRY;
            // The lock is taken per batch, so readers of other sources write in place meanwhile.
            direct.writer.lock().unwrap().write_unless_none(src, lines);
            direct.dequeue(src);
            // Write everything already queued before paying for a flush.
            while let Ok((src, lines)) = rx.try_recv() {
                direct.writer.lock().unwrap().write_unless_none(src, lines);
                direct.dequeue(src);
            }
            direct.writer.lock().unwrap().flush();
        }
        // Every handle is gone, and with them the direct path.
        let mut writer = direct.writer.lock().unwrap();
        writer.finish();
    }

    /// Writes `lines` if every destination has room for them now (so nothing
    /// waits), and hands each file its part at once.
    fn try_write(&mut self, src: SourceId, lines: Lines) -> Result<(), Lines> {
        // A source added at run time: its log file is opened first, by the thread (an open may block).
        if src >= self.plain.len() {
            return Err(lines);
        }
        let to_file = lines.bytes();
        if let Some(Some(f)) = self.files.get(src) {
            if !f.fits(to_file) {
                return Err(lines);
            }
        }
        if let Some(f) = &self.combined {
            let prefix = self.plain.get(src).map_or(0, Vec::len);
            if !f.fits(to_file + lines.len() * prefix) {
                return Err(lines);
            }
        }
        if self.stdout.as_ref().is_some_and(|out| !out.has_room(lines.bytes())) {
            return Err(lines);
        }
        self.write(src, lines);
        if let Some(Some(f)) = self.files.get_mut(src) {
            f.flush();
        }
        if let Some(f) = &mut self.combined {
            f.flush();
        }
        Ok(())
    }

    /// The end of the run: what is left goes to the log files, then to stdout.
    fn finish(&mut self) {
        self.flush();
        // Log files get what is left first (they must lose nothing), then stdout.
        let deadline = std::time::Instant::now() + FILES_CLOSE_BOUND;
        self.files.drain(..).flatten().map(|f| *f).chain(self.combined.take()).for_each(|f| f.close(deadline));
        if let Some(out) = &mut self.stdout {
            out.close(STDOUT_CLOSE_BOUND);
        }
    }

    /// Takes the sources added since (see [`SinkHandle::add_source`]).
    fn take_added(&mut self) {
        let added = std::mem::take(&mut *self.added.lock().unwrap());
        for (id, label, file) in added {
            while self.plain.len() <= id {
                let i = self.plain.len();
                let (plain, prefix) = if i == id {
                    let plain = format!("{label} | ").into_bytes();
                    let prefix = if self.color { format!("\x1b[{}m{label}\x1b[0m | ", PALETTE[i % PALETTE.len()]).into_bytes() } else { plain.clone() };
                    (plain, prefix)
                } else {
                    (Vec::new(), Vec::new())
                };
                self.plain.push(plain);
                if let Some(out) = &self.stdout {
                    out.add_prefix(prefix);
                }
                let log = match (&file, i == id) {
                    // A replica added by `scale`: its own queued log file (not rotated: see docs/process-compose.md).
                    (Some(path), true) => match open_log(path).and_then(|f| QueuedLog::start(LogFile::new(f, None), path.display().to_string())) {
                        Ok(f) => Some(Box::new(f)),
                        Err(e) => {
                            tracing::error!("{label}: {e}; its output goes to stdout only");
                            None
                        }
                    },
                    _ => None,
                };
                self.files.push(log);
            }
        }
    }

    /// Log files and the ring first (they must lose nothing), then stdout.
    /// The batch is handled whole at every step: log files get its raw lines
    /// (never the terminal-safe form), and the ring and stdout's queue share it.
    fn write(&mut self, src: SourceId, lines: Lines) {
        if src >= self.plain.len() {
            self.take_added();
        }
        if let Some(Some(f)) = self.files.get_mut(src) {
            f.write_lines(&[], &lines);
        }
        if let Some(f) = &mut self.combined {
            f.write_lines(self.plain.get(src).map_or(&[][..], Vec::as_slice), &lines);
        }
        let lines = Arc::new(lines);
        if let Some(feed) = &self.feed {
            feed.push_lines(src, &lines);
        }
        if let Some(out) = &mut self.stdout {
            out.send(src, lines);
        }
    }

    /// [`Self::write`], except for the empty batch that only wakes the thread.
    fn write_unless_none(&mut self, src: SourceId, lines: Lines) {
        if !lines.is_empty() {
            self.write(src, lines);
        }
    }

    /// Whether a log file holds lines its queue had no room for yet.
    fn has_backlog(&self) -> bool {
        self.files.iter().flatten().map(|f| &**f).chain(self.combined.as_ref()).any(QueuedLog::has_backlog)
    }

    fn flush(&mut self) {
        self.files.iter_mut().flatten().for_each(|f| f.flush());
        if let Some(f) = &mut self.combined {
            f.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Batches written in place and batches handed to the thread (forced here
    /// by holding the writer) reach the log file and the ring in the order the
    /// process wrote them.
    #[test]
    fn batches_keep_their_order_whether_written_in_place_or_by_the_thread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let feed = super::super::feed::Feed::new(vec!["a".into()], vec![Some(path.clone())]);
        let config = SinkConfig {
            labels: vec!["a".into()],
            files: vec![Some(path.clone())],
            rotations: vec![None],
            combined: None,
            combined_rotation: None,
            stdout_file: None,
            color: false,
            feed: Some(feed.clone()),
        };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let sink = Sink::start(config).unwrap();
            let handle = sink.handle();
            for i in 0..30 {
                let held = (i % 4 == 0).then(|| handle.direct.writer.lock().unwrap());
                handle.send(0, Lines::from_line(format!("line {i}").as_bytes())).await;
                drop(held);
            }
            drop(handle);
            sink.close(Duration::from_secs(10)).await;
        });
        let want: Vec<String> = (0..30).map(|i| format!("line {i}")).collect();
        let file: Vec<String> = std::fs::read_to_string(&path).unwrap().lines().map(str::to_string).collect();
        assert_eq!(file, want);
        let ring: Vec<String> = feed.recent(&[], 100).iter().map(|l| l.line.to_string()).collect();
        assert_eq!(ring, want);
    }

    /// One source's batches queued behind the thread do not hold back another
    /// source writing in place, and each keeps its own order.
    #[test]
    fn each_source_keeps_its_order_while_another_goes_through_the_thread() {
        let dir = tempfile::tempdir().unwrap();
        let paths = [dir.path().join("a.log"), dir.path().join("b.log")];
        let config = SinkConfig {
            labels: vec!["a".into(), "b".into()],
            files: paths.iter().cloned().map(Some).collect(),
            rotations: vec![None, None],
            combined: None,
            combined_rotation: None,
            stdout_file: None,
            color: false,
            feed: None,
        };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let sink = Sink::start(config).unwrap();
            let handle = sink.handle();
            for i in 0..60 {
                let src = i % 2;
                let held = (src == 0 && i % 6 == 0).then(|| handle.direct.writer.lock().unwrap());
                handle.send(src, Lines::from_line(format!("line {i}").as_bytes())).await;
                drop(held);
            }
            drop(handle);
            sink.close(Duration::from_secs(10)).await;
        });
        for (src, path) in paths.iter().enumerate() {
            let want: Vec<String> = (0..60).filter(|i| i % 2 == src).map(|i| format!("line {i}")).collect();
            let got: Vec<String> = std::fs::read_to_string(path).unwrap().lines().map(str::to_string).collect();
            assert_eq!(got, want, "source {src}");
        }
    }
}
