//! corral's stdout as a consumer that may stall, kept apart from the log files.
//!
//! The labelled lines go to their own thread through a bounded queue
//! ([`QUEUE_BYTES`]). The sink thread, which writes the log files and the
//! `logs` ring, only hands batches over, so a stdout nobody reads (a paused
//! `| less`, a stuck log shipper) never holds up the files. The policy:
//!
//! - while stdout is read, even slowly, nothing is lost: a full queue makes
//!   the sink wait, which slows the processes through their pipes, as a
//!   terminal would;
//! - when the queue stays full for [`STALL`] (stdout made no progress), stdout
//!   counts as stalled: its lines are dropped (and counted) instead of waited
//!   for, and corral says so once on stderr; the log files and the ring go on
//!   at full speed;
//! - once stdout has taken everything queued, lines flow again, after a note
//!   on stderr of how many it missed.
//!
//! So a stalled stdout delays the other sinks by at most [`STALL`] per stall,
//! and holds at most [`QUEUE_BYTES`] of memory.
//!
//! The thread takes everything queued at once, formats it (label, the
//! terminal-safe line, newline: one scan says whether a batch needs the rule
//! at all) into one buffer and writes 256 KiB at a time; with output left
//! over it waits [`LINGER`] for more before writing it, so a chatty process
//! costs one wake-up and a few large writes per millisecond.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::fd::AsFd;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::lines::Lines;
use super::rotate::{Mill, Policy, Rotator};
use super::sink::SourceId;

/// Bytes of labelled output that may wait for stdout.
pub const QUEUE_BYTES: usize = 4 * 1024 * 1024;
/// What a queued batch costs beyond its text (the shared batch, its two
/// allocations, the queue entry): counted, so a process flushing a line per
/// write cannot hold many times [`QUEUE_BYTES`] in small batches.
const BATCH_COST: usize = 160;
/// How long stdout may make no progress before its lines are dropped.
pub const STALL: Duration = Duration::from_secs(2);

#[derive(Default)]
struct Queue {
    items: VecDeque<(SourceId, Arc<Lines>)>,
    bytes: usize,
    closed: bool,
    /// The writer waits for lines: a send must wake it.
    writer_asleep: bool,
    /// The writer waits [`LINGER`] for more before writing what it holds: a
    /// send that brings [`WRITE_AT`] or more, or one that waits for room, must
    /// wake it (else the queue fills while it sleeps, and the sink waits
    /// for the rest of the linger).
    writer_lingering: bool,
    /// The sink waits for room: a write must wake it. (A wake-up is a system
    /// call; paying it for every batch when nobody waits was a visible cost.)
    sink_waiting: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Prefixes of sources added after the start (replicas added by `scale`), in id order.
    added: Mutex<Vec<Vec<u8>>>,
    /// Signalled when the writer took something (room) or the sink added something.
    changed: Condvar,
}

/// The sink's side: hands batches to the stdout thread under the policy above.
pub struct Stdout {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    /// Disconnected when the thread ends (so `close` need not poll).
    done: std::sync::mpsc::Receiver<()>,
    /// Lines dropped since stdout stalled; `Some` while it is stalled.
    dropped: Option<u64>,
}

impl Stdout {
    /// Starts the writer thread on a duplicate of fd 1, with each source's label
    /// prefix. `rotation`: fd 1 is that file (a detached run's output log), rotated so.
    pub fn start(prefixes: Vec<Vec<u8>>, rotation: Option<(std::path::PathBuf, Policy, Mill)>) -> io::Result<Option<Stdout>> {
        // An owned duplicate of fd 1: not std's line-buffered Stdout, close-on-exec,
        // and closing it does not close corral's stdout.
        let Ok(fd) = io::stdout().as_fd().try_clone_to_owned() else { return Ok(None) };
        let file = File::from(fd);
        let rotator = rotation.map(|(path, policy, mill)| Rotator::new(&path, policy, mill, Some(1)));
        let out = BufWriter::with_capacity(64 * 1024, file);
        let shared = Arc::new(Shared { queue: Mutex::default(), added: Mutex::default(), changed: Condvar::new() });
        let writer = Writer { out, rotator, prefixes, scratch: Vec::new(), lingered: false, shared: shared.clone() };
        let (done_tx, done) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new().name("corral-stdout".into()).spawn(move || {
            let _done = done_tx;
            writer.run()
        })?;
        Ok(Some(Stdout { shared, thread: Some(thread), done, dropped: None }))
    }

    /// Queues a batch for stdout: waits for room while stdout makes progress,
    /// drops the batch once it has made none for [`STALL`].
    pub fn send(&mut self, src: SourceId, lines: Arc<Lines>) {
        let mut q = self.shared.queue.lock().unwrap();
        if let Some(n) = self.dropped {
            if !q.items.is_empty() {
                self.dropped = Some(n + lines.len() as u64);
                return;
            }
            tracing::warn!("stdout is being read again; {n} line(s) were not shown there (log files have them)");
            self.dropped = None;
        }
        let deadline = Instant::now() + STALL;
        let cost = lines.bytes() + BATCH_COST;
        while q.bytes > 0 && q.bytes + cost > QUEUE_BYTES {
            let now = Instant::now();
            if now >= deadline {
                tracing::warn!(
                    "stdout has not been read for {STALL:?}; lines for it are dropped until it is read again (log files and `corral logs` get every line)"
                );
                self.dropped = Some(lines.len() as u64);
                q.sink_waiting = false;
                return;
            }
            q.sink_waiting = true;
            if q.writer_lingering {
                self.shared.changed.notify_all();
            }
            q = self.shared.changed.wait_timeout(q, deadline - now).unwrap().0;
        }
        q.sink_waiting = false;
        if q.closed {
            return;
        }
        q.bytes += cost;
        q.items.push_back((src, lines));
        if q.writer_asleep || (q.writer_lingering && q.bytes >= WRITE_AT) {
            q.writer_lingering = false;
            self.shared.changed.notify_all();
        }
    }

    /// Whether a batch of `bytes` would be queued at once by [`Stdout::send`]
    /// (neither waited for nor dropped).
    pub fn has_room(&self, bytes: usize) -> bool {
        if self.dropped.is_some() {
            return false;
        }
        let q = self.shared.queue.lock().unwrap();
        !q.closed && (q.bytes == 0 || q.bytes + bytes + BATCH_COST <= QUEUE_BYTES)
    }

    /// The prefix of the next source id (added before any of its lines is sent).
    pub fn add_prefix(&self, prefix: Vec<u8>) {
        self.shared.added.lock().unwrap().push(prefix);
    }

    /// No more lines: the thread writes what is queued and ends. Waits for it at most `bound`.
    pub fn close(&mut self, bound: Duration) {
        self.shared.queue.lock().unwrap().closed = true;
        self.shared.changed.notify_all();
        if let Some(n) = self.dropped.take() {
            tracing::warn!("{n} line(s) were not shown on stdout (it was not being read); log files have them");
        }
        if let Some(t) = self.thread.take() {
            if let Err(std::sync::mpsc::RecvTimeoutError::Disconnected) = self.done.recv_timeout(bound) {
                let _ = t.join();
            } else {
                tracing::warn!("stdout did not take the last lines within {bound:?} (it is not being read); exiting without them");
            }
        }
    }
}

struct Writer {
    out: BufWriter<File>,
    rotator: Option<Rotator>,
    prefixes: Vec<Vec<u8>>,
    /// Reused for the labelled, terminal-safe form of the lines in hand.
    scratch: Vec<u8>,
    /// Has waited [`LINGER`] for more since the queue was last empty.
    lingered: bool,
    shared: Arc<Shared>,
}

/// How long buffered output may wait for more before it is written.
const LINGER: Duration = Duration::from_millis(1);

/// Formatted output written at once (fewer, larger writes; a bound on
/// `scratch`). A chatty process costs the thread a wake-up and a write per
/// this much: 64 KiB took 60 ms of its CPU per 128 MiB, 256 KiB 45 ms
/// (`bench/logs.py`, per-thread CPU, medians of 5).
const WRITE_AT: usize = 256 * 1024;

/// Writes out and empties `scratch` (straight to the file: `out`'s own buffer
/// is used only line by line, with a rotation policy, and is then empty here).
fn write_out(out: &mut BufWriter<File>, scratch: &mut Vec<u8>) -> io::Result<()> {
    if scratch.is_empty() {
        return Ok(());
    }
    let res = out.get_mut().write_all(scratch);
    scratch.clear();
    // A batch of many empty lines formats large: do not keep that much.
    if scratch.capacity() > 4 * WRITE_AT {
        scratch.shrink_to(2 * WRITE_AT);
    }
    res
}

/// One more line of `len` bytes is at the end of `scratch`: with a rotation
/// policy it is written alone (rotating first if due), else `scratch` is
/// written once it holds [`WRITE_AT`].
fn written(out: &mut BufWriter<File>, rotator: &mut Option<Rotator>, scratch: &mut Vec<u8>, len: usize) -> io::Result<()> {
    if let Some(r) = rotator {
        r.before_write(len, out)?;
        out.write_all(scratch)?;
        scratch.clear();
    } else if scratch.len() >= WRITE_AT {
        write_out(out, scratch)?;
    }
    Ok(())
}

impl Writer {
    /// Takes everything queued at once, writes it, then makes room for it.
    fn run(mut self) {
        let mut hand = VecDeque::new();
        loop {
            {
                let mut q = self.shared.queue.lock().unwrap();
                loop {
                    if !q.items.is_empty() {
                        std::mem::swap(&mut q.items, &mut hand);
                        break;
                    }
                    if q.closed {
                        break;
                    }
                    // Everything queued is written. Output still buffered waits a
                    // moment for more: a chatty process's batches come every few
                    // microseconds, and are then taken together, with one
                    // wake-up and large writes. The sink does not wake the
                    // thread for a batch meanwhile (`writer_asleep` stays
                    // false), only when it waits for room, or at the end...
                    if (!self.out.buffer().is_empty() || !self.scratch.is_empty()) && !self.lingered {
                        self.lingered = true;
                        q.writer_lingering = true;
                        q = self.shared.changed.wait_timeout(q, LINGER).unwrap().0;
                        q.writer_lingering = false;
                        continue;
                    }
                    // ...then is flushed before sleeping.
                    self.lingered = false;
                    drop(q);
                    if let Err(e) = self.flush() {
                        return self.failed(e);
                    }
                    // Nothing to do for now: the buffer of a burst is not kept.
                    self.scratch = Vec::new();
                    q = self.shared.queue.lock().unwrap();
                    if q.items.is_empty() && !q.closed {
                        q.writer_asleep = true;
                        q = self.shared.changed.wait(q).unwrap();
                        q.writer_asleep = false;
                    }
                }
            }
            if hand.is_empty() {
                break;
            }
            self.lingered = false;
            let mut res = Ok(());
            let mut taken = 0;
            for (src, lines) in hand.drain(..) {
                taken += lines.bytes() + BATCH_COST;
                if res.is_ok() {
                    res = self.write(src, &lines);
                }
            }
            // Room again only once formatted ("queued" includes the batches in hand);
            // what waits in `scratch` is less than WRITE_AT plus one batch.
            let mut q = self.shared.queue.lock().unwrap();
            q.bytes -= taken;
            if q.sink_waiting {
                self.shared.changed.notify_all();
            }
            drop(q);
            if let Err(e) = res {
                return self.failed(e);
            }
        }
        if let Err(e) = self.flush() {
            self.failed(e);
        }
    }

    /// Writes out everything formatted and buffered.
    fn flush(&mut self) -> io::Result<()> {
        write_out(&mut self.out, &mut self.scratch)?;
        self.out.flush()
    }

    /// Formats a batch into `scratch` (label, terminal-safe line, newline) and
    /// writes it out in large pieces; line by line with a rotation policy, which
    /// rotates between lines.
    fn write(&mut self, src: SourceId, lines: &Lines) -> io::Result<()> {
        if src >= self.prefixes.len() {
            self.prefixes.append(&mut self.shared.added.lock().unwrap());
        }
        let Writer { out, rotator, prefixes, scratch, .. } = self;
        let prefix = prefixes.get(src).map_or(&[][..], Vec::as_slice);
        // Labelled lines are made terminal-safe (see `terminal`); log files get the raw bytes.
        // Most batches need no change at all (the reader scanned each batch).
        if lines.plain() && rotator.is_none() {
            // The common case: the whole batch at once, then one check of the size.
            scratch.reserve(lines.bytes() + lines.len() * prefix.len());
            for l in lines.raw_lines() {
                scratch.extend_from_slice(prefix);
                scratch.extend_from_slice(l);
            }
            if scratch.len() >= WRITE_AT {
                write_out(out, scratch)?;
            }
        } else if lines.plain() {
            for l in lines.raw_lines() {
                scratch.extend_from_slice(prefix);
                scratch.extend_from_slice(l);
                written(out, rotator, scratch, l.len() + prefix.len())?;
            }
        } else {
            for l in lines.iter() {
                let start = scratch.len();
                scratch.extend_from_slice(prefix);
                corral_protocol::terminal::sanitize_into(l, scratch);
                scratch.push(b'\n');
                written(out, rotator, scratch, scratch.len() - start)?;
            }
        }
        Ok(())
    }

    /// stdout went away (EPIPE, a closed terminal): say so once, and take
    /// everything sent from now on without writing it.
    fn failed(self, e: io::Error) {
        tracing::warn!("stdout is no longer writable ({e}); processes keep running and log files are still written");
        let (_file, _unflushed) = self.out.into_parts();
        let mut q = self.shared.queue.lock().unwrap();
        loop {
            q.items.clear();
            q.bytes = 0;
            self.shared.changed.notify_all();
            if q.closed {
                return;
            }
            q.writer_asleep = true;
            q = self.shared.changed.wait(q).unwrap();
        }
    }
}
