//! Output for the control socket: a bounded ring of recent lines per source
//! (for `logs -n N`) and a broadcast of new lines (for `logs -f` and `attach`).
//!
//! The sink thread pushes every line here after writing it. A follower that
//! reads too slowly is told how many lines it missed; it never slows the
//! sink, and so never the processes. Every line gets a sequence number, so
//! the recent lines and the live ones can be joined without gaps or repeats.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use super::lines::Lines;
use super::sink::SourceId;

/// Bytes of recent output kept per source, the cost of each line included.
const RING_BYTES: usize = 256 * 1024;
/// What a line is counted beyond its text (its index entry, generously).
/// Counting only the text let short lines hold several times the budget, and
/// empty lines (which cost nothing by that count) grow the ring without bound:
/// the memory creep of a crash loop with output.
const LINE_COST: usize = std::mem::size_of::<FeedLine>() + 2 * std::mem::size_of::<usize>();
/// What a batch costs beyond its lines: its entry in the ring, the shared
/// batch and the headers of its two allocations. A process printing a line
/// now and then makes a batch per line.
const BATCH_COST: usize = std::mem::size_of::<Batch>() + std::mem::size_of::<Lines>() + 6 * std::mem::size_of::<usize>();
/// Lines a slow follower may fall behind before it misses some.
const FOLLOW_QUEUE: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedLine {
    pub seq: u64,
    pub source: SourceId,
    pub line: Arc<str>,
}

/// A batch of lines as the reader handed it over, shared with stdout's queue
/// (no copy, no allocation per line): the ring keeps batches, and makes
/// [`FeedLine`]s only when a client asks.
struct Batch {
    /// The sequence number of the batch's first line; the others follow.
    first: u64,
    lines: Arc<Lines>,
    /// Lines at the start already dropped from the ring.
    skip: usize,
}

/// The end of one source's output: whole batches, the first one partly dropped.
/// It counts [`RING_BYTES`] by the lines it still shows; what it holds in memory
/// is at most that plus the dropped part of its first batch (one read's worth).
struct Ring {
    batches: VecDeque<Batch>,
    bytes: usize,
}

impl Ring {
    fn new() -> Ring {
        Ring { batches: VecDeque::new(), bytes: 0 }
    }

    fn push(&mut self, first: u64, lines: &Arc<Lines>) {
        self.bytes += BATCH_COST + lines.bytes() + lines.len() * LINE_COST;
        self.batches.push_back(Batch { first, lines: lines.clone(), skip: 0 });
        // The oldest lines go, one by one in effect: whole batches while the
        // ring stays over budget without them, then the fewest lines of the
        // next one that bring it within (found by bisection: the cost of
        // dropping grows with the count).
        while self.bytes > RING_BYTES {
            let Some(front) = self.batches.front_mut() else { break };
            let (lines, skip, bytes) = (&front.lines, front.skip, self.bytes);
            // What dropping lines skip..k frees.
            let cost = |k: usize| lines.bytes_from(skip) - lines.bytes_from(k) + (k - skip) * LINE_COST;
            let last = lines.len() - 1;
            if bytes - cost(last) > RING_BYTES {
                self.bytes -= cost(lines.len()) + BATCH_COST;
                self.batches.pop_front();
                continue;
            }
            let (mut lo, mut hi) = (skip + 1, last);
            while lo < hi {
                let mid = (lo + hi) / 2;
                if bytes - cost(mid) > RING_BYTES {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            self.bytes -= cost(lo);
            front.skip = lo;
        }
        // A ring that shrank from a burst gives its memory back.
        if self.batches.capacity() > 2 * self.batches.len() + 64 {
            self.batches.shrink_to(self.batches.len() + 16);
        }
    }

    /// The last `n` lines, newest first.
    fn last(&self, source: SourceId, n: usize) -> impl Iterator<Item = FeedLine> + '_ {
        self.batches
            .iter()
            .rev()
            .flat_map(move |b| {
                (b.skip..b.lines.len()).rev().map(move |i| FeedLine { seq: b.first + i as u64, source, line: String::from_utf8_lossy(b.lines.get(i)).into() })
            })
            .take(n)
    }
}

pub struct Feed {
    /// By source id; grows when a replica is added at run time (`scale`).
    labels: Mutex<Vec<String>>,
    /// Per-source log files (complete history, where the ring keeps only the end).
    files: Mutex<Vec<Option<PathBuf>>>,
    rings: Mutex<(u64, Vec<Ring>)>,
    tx: broadcast::Sender<FeedLine>,
    /// The terminals of running `is_tty` processes, for `attach NAME`.
    pub(crate) terminals: crate::terminals::Terminals,
}

impl Feed {
    pub fn new(labels: Vec<String>, files: Vec<Option<PathBuf>>) -> Arc<Feed> {
        let rings = labels.iter().map(|_| Ring::new()).collect();
        let (tx, _) = broadcast::channel(FOLLOW_QUEUE);
        Arc::new(Feed { labels: Mutex::new(labels), files: Mutex::new(files), rings: Mutex::new((0, rings)), tx, terminals: Default::default() })
    }

    /// Adds source `id` (a replica added at run time), with its label and log file.
    pub fn add_source(&self, id: SourceId, label: &str, file: Option<PathBuf>) {
        let mut labels = self.labels.lock().unwrap();
        let mut files = self.files.lock().unwrap();
        let mut rings = self.rings.lock().unwrap();
        while labels.len() <= id {
            labels.push(String::new());
            files.push(None);
            rings.1.push(Ring::new());
        }
        labels[id] = label.to_string();
        files[id] = file;
    }

    /// The log file of `source`, if it has one.
    pub fn file(&self, source: SourceId) -> Option<PathBuf> {
        self.files.lock().unwrap().get(source).cloned().flatten()
    }

    /// The label of `source` (empty for an unknown one).
    pub fn label(&self, source: SourceId) -> String {
        self.labels.lock().unwrap().get(source).cloned().unwrap_or_default()
    }

    pub fn source_of(&self, label: &str) -> Option<SourceId> {
        self.labels.lock().unwrap().iter().position(|l| l == label && !l.is_empty())
    }

    /// Records one line (a batch of one).
    pub fn push(&self, source: SourceId, line: &[u8]) {
        self.push_lines(source, &Arc::new(Lines::from_line(line)));
    }

    /// Records a batch of lines (called by the sink thread): one lock for the
    /// batch, and a [`FeedLine`] made per line only while a client follows.
    pub fn push_lines(&self, source: SourceId, lines: &Arc<Lines>) {
        if lines.is_empty() {
            return;
        }
        let first = {
            let mut guard = self.rings.lock().unwrap();
            let (seq, rings) = &mut *guard;
            let first = *seq + 1;
            *seq += lines.len() as u64;
            if let Some(ring) = rings.get_mut(source) {
                ring.push(first, lines);
            }
            first
        };
        // No followers is the common case. One that subscribes after this
        // check reads the ring afterwards, which has these lines.
        if self.tx.receiver_count() == 0 {
            return;
        }
        for (i, line) in lines.iter().enumerate() {
            let _ = self.tx.send(FeedLine { seq: first + i as u64, source, line: String::from_utf8_lossy(line).into() });
        }
    }

    /// The last `n` lines of `sources` (all when empty), oldest first.
    pub fn recent(&self, sources: &[SourceId], n: usize) -> Vec<FeedLine> {
        let guard = self.rings.lock().unwrap();
        let mut lines: Vec<FeedLine> = guard
            .1
            .iter()
            .enumerate()
            .filter(|(i, _)| sources.is_empty() || sources.contains(i))
            .flat_map(|(i, r)| r.last(i, n))
            .collect();
        drop(guard);
        lines.sort_by_key(|l| l.seq);
        let skip = lines.len().saturating_sub(n);
        lines.split_off(skip)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<FeedLine> {
        self.tx.subscribe()
    }
}

/// How long reading a log file back (`corral logs`) may take.
const TAIL_BOUND: std::time::Duration = std::time::Duration::from_secs(5);

/// [`tail`] off the runtime, for at most [`TAIL_BOUND`]: a log file on a stalled
/// mount must not hold up the supervisor.
pub async fn tail_bounded(path: PathBuf, n: usize) -> std::io::Result<Vec<String>> {
    let shown = path.display().to_string();
    match tokio::time::timeout(TAIL_BOUND, tokio::task::spawn_blocking(move || tail(&path, n))).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(std::io::Error::other(e)),
        Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, format!("reading {shown} took more than {TAIL_BOUND:?}"))),
    }
}

/// The last `n` lines of a log file, reading backwards from its end (at most 64 MiB).
pub fn tail(path: &Path, n: usize) -> std::io::Result<Vec<String>> {
    use std::io::{Read, Seek, SeekFrom};
    use std::os::unix::fs::OpenOptionsExt;
    const BLOCK: u64 = 64 * 1024;
    const LIMIT: u64 = 64 * 1024 * 1024;
    // O_NONBLOCK: a log_location that is a FIFO must neither block this open nor
    // have its data read away from its real reader; only regular files are read.
    let mut f = std::fs::OpenOptions::new().read(true).custom_flags(nix::libc::O_NONBLOCK).open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{} is not a regular file", path.display())));
    }
    let len = meta.len();
    let mut start = len;
    let mut data = Vec::new();
    // One newline more than lines wanted, so the first line kept is whole.
    while start > 0 && len - start < LIMIT && data.iter().filter(|b| **b == b'\n').count() <= n {
        let from = start.saturating_sub(BLOCK);
        let mut block = vec![0u8; (start - from) as usize];
        f.seek(SeekFrom::Start(from))?;
        f.read_exact(&mut block)?;
        block.extend_from_slice(&data);
        data = block;
        start = from;
    }
    let text = String::from_utf8_lossy(&data);
    let mut lines: Vec<&str> = text.lines().collect();
    if start > 0 && !lines.is_empty() {
        lines.remove(0); // cut in the middle
    }
    let skip = lines.len().saturating_sub(n);
    Ok(lines[skip..].iter().map(|l| l.to_string()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_lines_merge_sources_in_order_and_rings_are_bounded() {
        let f = Feed::new(vec!["a".into(), "b".into()], vec![None, None]);
        f.push(0, b"a1");
        f.push(1, b"b1");
        f.push(0, b"a2");
        let all: Vec<String> = f.recent(&[], 10).iter().map(|l| l.line.to_string()).collect();
        assert_eq!(all, ["a1", "b1", "a2"]);
        let last2: Vec<String> = f.recent(&[], 2).iter().map(|l| l.line.to_string()).collect();
        assert_eq!(last2, ["b1", "a2"]);
        assert_eq!(f.recent(&[1], 10).len(), 1);
        let big = vec![b'x'; 1024];
        for _ in 0..1000 {
            f.push(0, &big);
        }
        let kept = f.recent(&[0], usize::MAX).len();
        assert!(kept <= RING_BYTES / 1024 + 1, "{kept} lines kept");
        assert_eq!(f.source_of("b"), Some(1));
    }

    #[test]
    fn empty_lines_are_bounded_too() {
        let f = Feed::new(vec!["a".into()], vec![None]);
        for _ in 0..100_000 {
            f.push(0, b"");
        }
        let kept = f.recent(&[0], usize::MAX).len();
        assert!(kept <= RING_BYTES / (LINE_COST + BATCH_COST), "{kept} empty lines kept");
    }

    #[test]
    fn batches_keep_sequence_order_and_are_trimmed_line_by_line() {
        let f = Feed::new(vec!["a".into(), "b".into()], vec![None, None]);
        let mut split = super::super::lines::LineSplitter::new(1024);
        f.push_lines(0, &Arc::new(split.push(b"a1\na2\na3\n")));
        f.push_lines(1, &Arc::new(split.push(b"b1\n")));
        f.push_lines(0, &Arc::new(split.push(b"a4\n")));
        let all: Vec<(u64, String)> = f.recent(&[], 10).iter().map(|l| (l.seq, l.line.to_string())).collect();
        assert_eq!(all, [(1, "a1".into()), (2, "a2".into()), (3, "a3".into()), (4, "b1".into()), (5, "a4".into())]);
        let last3: Vec<String> = f.recent(&[0], 3).iter().map(|l| l.line.to_string()).collect();
        assert_eq!(last3, ["a2", "a3", "a4"]);
        // Big batches: the ring keeps the newest lines within its budget, dropping the oldest one by one.
        let line = [b'x'; 99];
        for round in 0..20u8 {
            let text: Vec<u8> = (0..1000).flat_map(|i| [&line[..], format!("{round}:{i}\n").as_bytes()].concat()).collect();
            f.push_lines(0, &Arc::new(split.push(&text)));
        }
        let kept = f.recent(&[0], usize::MAX);
        // Each line counts its newline too.
        let cost: usize = kept.iter().map(|l| l.line.len() + 1 + LINE_COST).sum();
        assert!(cost <= RING_BYTES && cost + 110 + LINE_COST + 3 * BATCH_COST > RING_BYTES, "{cost}");
        assert!(kept.last().unwrap().line.ends_with("19:999"));
        assert!(kept.windows(2).all(|w| w[1].seq == w[0].seq + 1));
        let held: usize = f.rings.lock().unwrap().1[0].batches.iter().map(|b| b.lines.footprint()).sum();
        assert!(held <= RING_BYTES + 2 * 1000 * 110, "{held} bytes held");
    }

    #[test]
    fn tail_reads_the_end_of_a_file_across_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let text: String = (1..=50_000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, text).unwrap();
        let t = tail(&path, 20_000).unwrap();
        assert_eq!((t.len(), t[0].as_str(), t[19_999].as_str()), (20_000, "line 30001", "line 50000"));
        assert_eq!(tail(&path, 100_000).unwrap().len(), 50_000);
    }

    #[test]
    fn followers_get_new_lines_and_hear_when_they_fall_behind() {
        let f = Feed::new(vec!["a".into()], vec![None]);
        let mut rx = f.subscribe();
        f.push(0, b"one");
        assert_eq!(&*rx.try_recv().unwrap().line, "one");
        for i in 0..FOLLOW_QUEUE + 10 {
            f.push(0, format!("{i}").as_bytes());
        }
        assert!(matches!(rx.try_recv(), Err(broadcast::error::TryRecvError::Lagged(10))));
    }
}
