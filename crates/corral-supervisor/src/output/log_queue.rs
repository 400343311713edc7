//! Each log file progresses on its own: a thread per file behind a bounded
//! queue, so a file whose writes block (a FIFO whose reader stalls, a slow
//! network mount) holds up neither the other files, nor the `logs` ring, nor
//! stdout.
//!
//! The sink's writer hands each file its lines ([`QueuedLog::write`]) and,
//! after each burst, a batch ([`QueuedLog::flush`]) without blocking: a batch
//! that does not fit the file's queue ([`BATCHES`] in flight) stays in the
//! file's backlog. When backlog and batches in flight reach [`BACKLOG`] bytes, the writer
//! waits for the file as long as the file makes progress (a slow disk: back
//! pressure, nothing lost); a file that has written nothing for [`STALL`] is
//! stalled: it loses its own lines from then on until it takes a batch again,
//! and says so (once when it starts, and how many when it catches up). No
//! other file and not the ring lose anything. At the end of the run each
//! file gets what is left, within the sink's bound.

use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Batches in flight between the sink's writer and one file's thread.
const BATCHES: usize = 16;
/// Bytes one file may fall behind (its backlog and its batches in flight) before it must wait or drop.
pub(super) const BACKLOG: usize = 4 * 1024 * 1024;
/// Stack of each file's thread.
const FILE_THREAD_STACK: usize = 128 * 1024;
/// A file with a full backlog that writes nothing for this long is stalled.
pub(super) const STALL: Duration = Duration::from_secs(1);

/// Where a queued log file's bytes finally go (a `LogFile` in the sink).
pub(super) trait Destination: Send + 'static {
    fn write(&mut self, bytes: &[u8]);
    fn flush(&mut self);
}

pub(super) struct QueuedLog {
    tx: Option<SyncSender<Vec<u8>>>,
    thread: Option<JoinHandle<()>>,
    /// Lines not yet handed to the file's thread.
    backlog: Vec<u8>,
    /// Batches the file's thread has written so far.
    written: Arc<AtomicU64>,
    /// Bytes handed to the file's thread and not yet written.
    in_flight: Arc<AtomicUsize>,
    /// Whether the file is stalled (its lines are dropped).
    stalled: bool,
    /// Lines dropped since the file last kept up.
    dropped: u64,
    /// The path, for messages.
    name: String,
}

impl QueuedLog {
    pub(super) fn start<D: Destination>(mut dest: D, name: String) -> io::Result<QueuedLog> {
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(BATCHES);
        let written = Arc::new(AtomicU64::new(0));
        let progress = written.clone();
        let in_flight = Arc::new(AtomicUsize::new(0));
        let pending = in_flight.clone();
        // A small stack: the thread only writes batches (its buffer is on the heap), and a set may have many log files.
        let thread = std::thread::Builder::new().name("corral-log-file".into()).stack_size(FILE_THREAD_STACK).spawn(move || {
            for batch in rx {
                dest.write(&batch);
                dest.flush();
                pending.fetch_sub(batch.len(), Ordering::Relaxed);
                progress.fetch_add(1, Ordering::Relaxed);
            }
        })?;
        Ok(QueuedLog { tx: Some(tx), thread: Some(thread), backlog: Vec::new(), written, in_flight, stalled: false, dropped: 0, name })
    }

    /// Adds one line (its parts, newline included) to the backlog; drops it
    /// if the backlog is full.
    pub(super) fn write(&mut self, parts: &[&[u8]]) {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if !self.fits(len) && !self.stalled {
            self.wait_for_room(len);
        }
        if !self.fits(len) {
            self.dropped += 1;
            return;
        }
        parts.iter().for_each(|p| self.backlog.extend_from_slice(p));
    }

    /// Adds a batch of lines, each as `prefix`, the line, a newline: in one go
    /// when the whole batch fits (one copy when there is no prefix), else line
    /// by line as [`QueuedLog::write`].
    pub(super) fn write_lines(&mut self, prefix: &[u8], lines: &super::lines::Lines) {
        let len = lines.bytes() + lines.len() * prefix.len();
        if !self.fits(len) {
            return lines.raw_lines().for_each(|l| self.write(&[prefix, l]));
        }
        if prefix.is_empty() {
            return self.backlog.extend_from_slice(lines.raw());
        }
        self.backlog.reserve(len);
        for l in lines.raw_lines() {
            self.backlog.extend_from_slice(prefix);
            self.backlog.extend_from_slice(l);
        }
    }

    /// Waits while the file makes progress until `len` more bytes fit; marks
    /// it stalled when it writes nothing for [`STALL`].
    fn wait_for_room(&mut self, len: usize) {
        let mut seen = self.written.load(Ordering::Relaxed);
        let mut since = Instant::now();
        loop {
            self.flush();
            if self.fits(len) || self.tx.is_none() {
                return;
            }
            let now = self.written.load(Ordering::Relaxed);
            if now != seen {
                (seen, since) = (now, Instant::now());
            } else if since.elapsed() >= STALL {
                self.stalled = true;
                tracing::warn!("log file {} is not keeping up (a stalled reader?): dropping its own lines until it takes more; other log files and `corral logs` keep every line", self.name);
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Whether lines wait here for the file's queue to take them.
    pub(super) fn has_backlog(&self) -> bool {
        !self.backlog.is_empty()
    }

    /// Whether `len` more bytes fit in the backlog and the batches in flight.
    pub(super) fn fits(&self, len: usize) -> bool {
        self.backlog.len() + self.in_flight.load(Ordering::Relaxed) + len <= BACKLOG
    }

    /// Hands the backlog to the file's thread if its queue has room; never blocks.
    pub(super) fn flush(&mut self) {
        let Some(tx) = &self.tx else { return };
        if self.backlog.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.backlog);
        let len = batch.len();
        self.in_flight.fetch_add(len, Ordering::Relaxed);
        match tx.try_send(batch) {
            Ok(()) => {
                if self.stalled {
                    tracing::warn!("log file {} takes lines again; {} line(s) were dropped meanwhile", self.name, self.dropped);
                    (self.stalled, self.dropped) = (false, 0);
                }
            }
            Err(TrySendError::Full(batch)) => {
                self.in_flight.fetch_sub(len, Ordering::Relaxed);
                self.backlog = batch;
            }
            // The thread is gone (it cannot be: it ends only when the queue closes).
            Err(TrySendError::Disconnected(_)) => self.backlog.clear(),
        }
    }

    /// The end of the run: hands over what is left and waits for the file's
    /// thread until `deadline`. A file still blocked then is left behind (its
    /// last lines lost) and named.
    pub(super) fn close(mut self, deadline: Instant) {
        while !self.backlog.is_empty() && Instant::now() < deadline {
            self.flush();
            if !self.backlog.is_empty() {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        drop(self.tx.take());
        let thread = self.thread.take().expect("joined once");
        while !thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        if thread.is_finished() {
            let _ = thread.join();
        } else {
            tracing::warn!("log file {} is still blocked at the end of the run; its last lines are lost", self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A destination that blocks while `gate` is held, and records what it got.
    #[derive(Clone)]
    struct Gated {
        got: Arc<Mutex<Vec<u8>>>,
        gate: Arc<Mutex<()>>,
    }
    impl Destination for Gated {
        fn write(&mut self, bytes: &[u8]) {
            let _open = self.gate.lock().unwrap();
            self.got.lock().unwrap().extend_from_slice(bytes);
        }
        fn flush(&mut self) {}
    }

    fn gated() -> Gated {
        Gated { got: Arc::default(), gate: Arc::default() }
    }

    #[test]
    fn a_blocked_file_never_blocks_the_writer_and_another_file_gets_every_line() {
        let (slow, fast) = (gated(), gated());
        let held = slow.gate.lock().unwrap(); // the slow file's writes block
        let mut a = QueuedLog::start(slow.clone(), "slow".into()).unwrap();
        let mut b = QueuedLog::start(fast.clone(), "fast".into()).unwrap();
        let line = vec![b'x'; 1023];
        let n = 3 * BACKLOG / 1024 + 1000;
        for _ in 0..n {
            a.write(&[&line, b"\n"]);
            b.write(&[&line, b"\n"]);
            a.flush();
            b.flush();
        }
        assert!(a.stalled && a.dropped > 0, "the stalled file drops its own lines beyond its backlog");
        assert!(a.backlog.len() + a.in_flight.load(Ordering::Relaxed) <= BACKLOG);
        b.close(Instant::now() + Duration::from_secs(10));
        assert_eq!(fast.got.lock().unwrap().len(), n * 1024, "every line of the file that progresses");
        drop(held);
        a.close(Instant::now() + Duration::from_secs(10));
        let got = slow.got.lock().unwrap().len();
        assert!(got >= BACKLOG && got % 1024 == 0 && got < n * 1024, "whole lines up to its bound: {got}");
    }

    #[test]
    fn a_file_still_blocked_at_the_end_is_left_behind_within_the_deadline() {
        let slow = gated();
        let _held = slow.gate.lock().unwrap();
        let mut a = QueuedLog::start(slow.clone(), "slow".into()).unwrap();
        for _ in 0..10 {
            a.write(&[b"line\n"]);
            a.flush();
        }
        let start = Instant::now();
        a.close(start + Duration::from_millis(200));
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
