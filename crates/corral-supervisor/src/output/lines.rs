//! Splitting a byte stream into bounded lines.
//!
//! A process may write a 100 MB line with no newline; holding it whole would let
//! one process exhaust corral's memory. So a line longer than the bound is cut
//! into pieces of at most `max` bytes (at a UTF-8 boundary where one is near),
//! each shown as a line of its own. A final line without a newline is kept and
//! handed out by [`LineSplitter::finish`].

/// A batch of lines stored back to back in one buffer, each followed by its
/// newline: one allocation per read, however many lines it held. For the
/// common read (whole lines of ordinary length, no `\r\n`) that buffer is the
/// one the pipe was read into, so a line is not copied on its way in, and a log
/// file takes the whole buffer in one append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lines {
    /// Every line's text followed by `\n`.
    data: Vec<u8>,
    /// Where each line's newline is in `data`.
    ends: Vec<u32>,
    /// No line needs the terminal rule (see `corral_protocol::terminal`):
    /// scanned by the reader, while the bytes it has just read are in its cache.
    plain: bool,
}

impl Lines {
    /// No lines (wakes the sink's thread without writing anything).
    pub fn none() -> Lines {
        Lines { data: Vec::new(), ends: Vec::new(), plain: true }
    }

    fn new(data: Vec<u8>, ends: Vec<u32>) -> Lines {
        let plain = corral_protocol::terminal::is_plain_lines(&data);
        Lines { data, ends, plain }
    }

    /// Whether every line may be shown as it is (no byte the terminal rule changes).
    pub fn plain(&self) -> bool {
        self.plain
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
    pub fn len(&self) -> usize {
        self.ends.len()
    }
    /// Bytes held: the text with a newline after each line.
    pub fn bytes(&self) -> usize {
        self.data.len()
    }
    /// Bytes held by lines `i..` (newlines included).
    pub fn bytes_from(&self, i: usize) -> usize {
        self.data.len() - self.start(i)
    }
    fn start(&self, i: usize) -> usize {
        if i == 0 {
            0
        } else {
            self.ends[i - 1] as usize + 1
        }
    }
    fn push(&mut self, line: &[u8]) {
        self.data.extend_from_slice(line);
        self.ends.push(self.data.len() as u32);
        self.data.push(b'\n');
    }
    /// Every line with its newline, back to back: what a log file gets.
    pub fn raw(&self) -> &[u8] {
        &self.data
    }
    /// Line `i` (panics past the end), without its newline.
    pub fn get(&self, i: usize) -> &[u8] {
        &self.data[self.start(i)..self.ends[i] as usize]
    }
    /// Bytes the batch holds in memory (its text and its line index).
    pub fn footprint(&self) -> usize {
        self.data.capacity() + self.ends.capacity() * std::mem::size_of::<u32>()
    }
    /// Each line without its newline.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.raw_lines().map(|l| &l[..l.len() - 1])
    }
    /// Each line with its newline.
    pub fn raw_lines(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let line = &self.data[start..=end as usize];
            start = end as usize + 1;
            line
        })
    }
    /// Builds a batch from whole lines (used for corral's own messages).
    pub fn from_line(line: &[u8]) -> Lines {
        debug_assert!(!line.contains(&b'\n'), "one line, without its newline");
        let mut l = Lines::none();
        l.push(line);
        Lines::new(l.data, l.ends)
    }
}

#[derive(Debug)]
pub struct LineSplitter {
    max: usize,
    partial: Vec<u8>,
    /// The last [`LineSplitter::buffer`] did not start with `partial` (it was
    /// long): [`LineSplitter::split`] takes the read bytes the copying way.
    apart: bool,
}

/// An unfinished line longer than this is not copied into every read's
/// buffer (nor scanned again): a process writing a long line a few bytes at a
/// time would cost that much per read.
const PARTIAL_IN_PLACE: usize = 4 * 1024;

impl LineSplitter {
    pub fn new(max: usize) -> LineSplitter {
        assert!(max >= 4, "a line bound must hold one UTF-8 character");
        LineSplitter { max, partial: Vec::new(), apart: false }
    }

    /// A buffer to read the next `size` bytes into (appended after what it
    /// holds: the unfinished line of the last read, unless that is long), for
    /// [`LineSplitter::split`].
    pub fn buffer(&mut self, size: usize) -> Vec<u8> {
        self.apart = self.partial.len() > PARTIAL_IN_PLACE;
        if self.apart {
            return Vec::with_capacity(size);
        }
        let mut buf = Vec::with_capacity(self.partial.len() + size);
        buf.extend_from_slice(&self.partial);
        buf
    }

    /// Takes a buffer from [`LineSplitter::buffer`] with the bytes read
    /// appended; returns the lines it completed (without their newline, and
    /// without a `\r` just before it), keeping the unfinished rest. The
    /// buffer itself becomes the batch when its lines need no change.
    pub fn split(&mut self, mut data: Vec<u8>) -> Lines {
        if std::mem::take(&mut self.apart) {
            return self.push(&data);
        }
        let old = self.partial.len();
        debug_assert_eq!(&data[..old], &self.partial[..]);
        let mut ends = Vec::with_capacity(data.len() / 64 + 1);
        let (mut start, mut careful) = (0, false);
        // One pass finds the newlines and says whether any byte needs the
        // terminal rule (the unfinished rest is counted in: at worst a plain
        // batch is shown the careful way). The unfinished line of the last
        // read holds no newline, but may hold such a byte: scanned again.
        let plain = corral_protocol::terminal::scan_lines(&data, |nl| {
            // A line over the bound, or ending in `\r\n`: the careful way.
            careful |= nl - start > self.max || (nl > start && data[nl - 1] == b'\r');
            ends.push(nl as u32);
            start = nl + 1;
        });
        debug_assert!(ends.first().is_none_or(|&e| e as usize >= old));
        // Or an unfinished rest already over the bound.
        if careful || data.len() - start > self.max {
            return self.split_copying(&data);
        }
        self.partial.clear();
        self.partial.extend_from_slice(&data[start..]);
        data.truncate(start);
        // A short read into a large buffer: do not hold the rest of it.
        if data.capacity() > 2 * data.len() + 64 {
            data.shrink_to_fit();
        }
        Lines { data, ends, plain }
    }

    /// [`LineSplitter::split`] by copying each line: cuts lines over the
    /// bound and drops the `\r` of a `\r\n`.
    fn split_copying(&mut self, all: &[u8]) -> Lines {
        self.partial.clear();
        self.push(all)
    }

    /// Feeds `data`; returns the lines it completed (without their newline, and
    /// without a `\r` just before it).
    ///
    /// A line holds at most `max` bytes of text, and a `\r` before its
    /// newline; a longer one is cut into pieces of at most `max` bytes. An
    /// unfinished line waits for what follows while it is within that (so
    /// `max` bytes then `\r\n`, in any number of reads, are one line).
    pub fn push(&mut self, mut data: &[u8]) -> Lines {
        // One allocation for the text: at most what came in and what was pending, and the newlines.
        let mut out = Lines { data: Vec::with_capacity(data.len() + self.partial.len() + 1), ends: Vec::new(), plain: true };
        while !data.is_empty() {
            let pending = self.partial.len();
            // Where the line's newline may be: after `max` bytes of text, or a `\r` then.
            let room = self.max.saturating_sub(pending);
            let window = data.len().min(room + 2);
            let before = |nl: usize| if nl > 0 { data.get(nl - 1) } else { self.partial.last() };
            let found = memchr::memchr(b'\n', &data[..window]).filter(|&nl| pending + nl <= self.max || before(nl) == Some(&b'\r') && pending + nl == self.max + 1);
            match found {
                Some(nl) => {
                    let piece = &data[..nl];
                    if self.partial.is_empty() {
                        out.push(strip_cr(piece));
                    } else {
                        self.partial.extend_from_slice(piece);
                        out.push(strip_cr(&self.partial));
                        self.partial.clear();
                    }
                    data = &data[nl + 1..];
                }
                None if pending + data.len() <= self.max || (pending + data.len() == self.max + 1 && data.last() == Some(&b'\r')) => {
                    self.partial.extend_from_slice(data);
                    data = &[];
                }
                None => {
                    // The line exceeds the bound: emit its first `max` bytes, less
                    // a character they would cut, which starts the rest.
                    let take = room.min(data.len());
                    self.partial.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    let piece = utf8_cut(&[], &self.partial[..self.max.min(self.partial.len())]);
                    out.push(&self.partial[..piece]);
                    self.partial.drain(..piece);
                }
            }
        }
        Lines::new(out.data, out.ends)
    }

    /// The last line, if the stream ended without a newline.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        // `max` bytes and a `\r` that no newline followed: the `\r` goes, as before a newline.
        if self.partial.len() > self.max {
            self.partial.pop();
        }
        (!self.partial.is_empty()).then(|| std::mem::take(&mut self.partial))
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// How much of `next` to take so that `partial + next[..n]` does not end inside a
/// UTF-8 character; falls back to the full length for data that is not UTF-8.
fn utf8_cut(partial: &[u8], next: &[u8]) -> usize {
    let is_cont = |b: u8| b & 0xC0 == 0x80;
    let full = next.len();
    // Look at most 3 bytes back for the start of the last character.
    for back in 1..=3.min(full) {
        let b = next[full - back];
        if !is_cont(b) {
            let width = match b {
                0x00..=0x7F => 1,
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                0xF0..=0xF7 => 4,
                _ => return full,
            };
            return if width > back && full - back + partial.len() > 0 { full - back } else { full };
        }
    }
    full
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(s: &mut LineSplitter, data: &[u8]) -> Vec<Vec<u8>> {
        s.push(data).iter().map(|l| l.to_vec()).collect()
    }

    /// A small deterministic generator (xorshift): numbers below `n`, the same every run.
    fn numbers(mut seed: u64) -> impl FnMut(u64) -> u64 {
        move |n| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        }
    }

    /// `text` cut into reads of 1 to `most` bytes.
    fn reads<'a>(text: &'a [u8], most: u64, next: &mut impl FnMut(u64) -> u64) -> Vec<&'a [u8]> {
        let mut chunks = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let n = (1 + next(most) as usize).min(rest.len());
            chunks.push(&rest[..n]);
            rest = &rest[n..];
        }
        chunks
    }

    /// Every line `chunks` give, read into the splitter's buffer one chunk
    /// at a time, then the unfinished last one.
    fn read_in_chunks(max: usize, chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut s = LineSplitter::new(max);
        let mut lines = Vec::new();
        for c in chunks {
            let mut buf = s.buffer(c.len());
            buf.extend_from_slice(c);
            lines.extend(s.split(buf).iter().map(<[u8]>::to_vec));
        }
        lines.extend(s.finish());
        lines
    }

    #[test]
    fn lines_do_not_depend_on_how_the_reads_cut_the_stream() {
        // A small generator of awkward streams: short and long lines, \r\n,
        // bare \r, multibyte characters, cut into reads of every size.
        let mut next = numbers(0x9e37_79b9_7f4a_7c15u64);
        for round in 0..500 {
            let mut text = Vec::new();
            while text.len() < 600 {
                match next(8) {
                    0 => text.extend_from_slice(b"\r\n"),
                    1 => text.push(b'\r'),
                    2 => text.extend_from_slice("é€".as_bytes()),
                    3 => text.extend(std::iter::repeat(b'x').take(next(40) as usize)),
                    _ => text.extend_from_slice(b"ab\n"),
                }
            }
            let max = 4 + round % 30;
            let mut whole = LineSplitter::new(max);
            let mut want: Vec<Vec<u8>> = whole.push(&text).iter().map(<[u8]>::to_vec).collect();
            want.extend(whole.finish());
            assert!(want.iter().all(|l| l.len() <= max), "{want:?}");
            let chunks = reads(&text, 90, &mut next);
            assert_eq!(read_in_chunks(max, &chunks), want, "max {max}, {text:?}");
            let mut pushed = LineSplitter::new(max);
            let mut got: Vec<Vec<u8>> = chunks.iter().flat_map(|c| pushed.push(c).iter().map(<[u8]>::to_vec).collect::<Vec<_>>()).collect();
            got.extend(pushed.finish());
            assert_eq!(got, want, "pushed: max {max}, {text:?}");
        }
    }

    #[test]
    fn a_line_as_long_as_the_bound_may_end_in_crlf_across_reads() {
        for cut in 0..=6 {
            let text = b"abcd\r\nef\n";
            let lines = read_in_chunks(4, &[&text[..cut], &text[cut..]]);
            assert_eq!(lines, [b"abcd".to_vec(), b"ef".to_vec()], "read cut at {cut}");
        }
        // Longer than the bound with its \r: cut, and the \r starts the rest.
        assert_eq!(read_in_chunks(4, &[b"abcd\rx\n"]), [b"abcd".to_vec(), b"\rx".to_vec()]);
        // The stream ends after the bound and a \r.
        assert_eq!(read_in_chunks(4, &[b"abcd\r"]), [b"abcd".to_vec()]);
    }

    #[test]
    fn a_long_unfinished_line_is_not_copied_into_every_read() {
        let mut s = LineSplitter::new(100_000);
        let mut lines = 0;
        for _ in 0..10_000 {
            let mut buf = s.buffer(4096);
            buf.extend_from_slice(b"........");
            assert!(buf.len() <= PARTIAL_IN_PLACE + 8, "the buffer started with {} bytes", buf.len() - 8);
            lines += s.split(buf).len();
        }
        let mut buf = s.buffer(4096);
        buf.extend_from_slice(b"!\n");
        let last = s.split(buf);
        assert_eq!((lines, last.len(), last.get(0).len()), (0, 1, 80_001));
    }

    #[test]
    fn long_unfinished_lines_read_apart_split_as_one_push_does() {
        let mut next = numbers(0x2545_f491_4f6c_dd1du64);
        for _ in 0..40 {
            let mut text = Vec::new();
            while text.len() < 60_000 {
                text.extend(std::iter::repeat(b'y').take(next(12_000) as usize));
                text.extend_from_slice(if next(2) == 0 { b"\r\n" } else { b"\n" });
            }
            let mut whole = LineSplitter::new(10_000);
            let mut want: Vec<Vec<u8>> = whole.push(&text).iter().map(<[u8]>::to_vec).collect();
            want.extend(whole.finish());
            let chunks = reads(&text, 3_000, &mut next);
            assert_eq!(read_in_chunks(10_000, &chunks), want);
        }
    }

    #[test]
    fn ordinary_lines_are_not_copied() {
        let mut s = LineSplitter::new(100);
        let mut buf = s.buffer(64);
        buf.extend_from_slice(b"one\ntwo\nthr");
        let at = buf.as_ptr();
        let lines = s.split(buf);
        assert_eq!((lines.raw(), lines.raw().as_ptr()), (&b"one\ntwo\n"[..], at));
        assert_eq!(lines.iter().collect::<Vec<_>>(), [&b"one"[..], b"two"]);
        let mut buf = s.buffer(64);
        buf.extend_from_slice(b"ee\r\n");
        assert_eq!(s.split(buf).raw(), b"three\n", "\\r\\n becomes \\n");
        assert_eq!(s.finish(), None);
    }

    #[test]
    fn splits_on_newlines_across_pushes() {
        let mut s = LineSplitter::new(100);
        assert_eq!(collect(&mut s, b"a\nbb"), vec![b"a".to_vec()]);
        assert_eq!(collect(&mut s, b"b\r\nc\n\n"), vec![b"bbb".to_vec(), b"c".to_vec(), b"".to_vec()]);
        assert_eq!(s.finish(), None);
        collect(&mut s, b"tail");
        assert_eq!(s.finish(), Some(b"tail".to_vec()));
    }

    #[test]
    fn long_lines_are_cut_at_the_bound() {
        let mut s = LineSplitter::new(4);
        assert_eq!(collect(&mut s, b"abcdefghij\nk"), vec![b"abcd".to_vec(), b"efgh".to_vec(), b"ij".to_vec()]);
        // A line as long as the bound waits for what follows: its newline, or more.
        assert_eq!(collect(&mut s, b"lmn"), Vec::<Vec<u8>>::new());
        assert_eq!(collect(&mut s, b"o"), vec![b"klmn".to_vec()]);
        assert_eq!(s.finish(), Some(b"o".to_vec()));
        // A line of exactly the bound followed by its newline is one line.
        assert_eq!(collect(&mut s, b"abcd\n"), vec![b"abcd".to_vec()]);
    }

    #[test]
    fn cuts_do_not_split_a_utf8_character() {
        let mut s = LineSplitter::new(4);
        let lines = collect(&mut s, "abé€x\n".as_bytes());
        for l in &lines {
            assert!(std::str::from_utf8(l).is_ok(), "{lines:?}");
        }
        assert_eq!(lines.concat(), "abé€x".as_bytes());
    }

    #[test]
    fn memory_stays_bounded_for_a_huge_line() {
        let mut s = LineSplitter::new(1024);
        let chunk = vec![b'x'; 64 * 1024];
        let mut total = 0;
        for _ in 0..100 {
            total += s.push(&chunk).len();
            assert!(s.partial.len() <= 1024);
        }
        assert_eq!((total, s.finish().map(|l| l.len())), (100 * 64 - 1, Some(1024)));
    }
}
