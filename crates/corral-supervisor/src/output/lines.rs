//! Splitting a byte stream into bounded lines.
//!
//! A process may write a 100 MB line with no newline; holding it whole would let
//! one process exhaust corral's memory. So a line longer than the bound is cut
//! into pieces of at most `max` bytes (at a UTF-8 boundary where one is near),
//! each shown as a line of its own. A final line without a newline is kept and
//! handed out by [`LineSplitter::finish`].

/// A batch of lines stored back to back in one buffer: one allocation per read,
/// however many lines it held.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Lines {
    data: Vec<u8>,
    ends: Vec<usize>,
}

impl Lines {
    /// No lines (wakes the sink's thread without writing anything).
    pub fn none() -> Lines {
        Lines { data: Vec::new(), ends: Vec::new() }
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
    pub fn len(&self) -> usize {
        self.ends.len()
    }
    /// Bytes of text held (newlines not counted).
    pub fn bytes(&self) -> usize {
        self.data.len()
    }
    fn push(&mut self, line: &[u8]) {
        self.data.extend_from_slice(line);
        self.ends.push(self.data.len());
    }
    /// The text of every line, back to back (no newlines).
    pub fn text(&self) -> &[u8] {
        &self.data
    }
    /// Line `i` (panics past the end).
    pub fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.data[start..self.ends[i]]
    }
    /// Bytes the batch holds in memory (its text and its line index).
    pub fn footprint(&self) -> usize {
        self.data.capacity() + self.ends.capacity() * std::mem::size_of::<usize>()
    }
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let line = &self.data[start..end];
            start = end;
            line
        })
    }
    /// Builds a batch from whole lines (used for corral's own messages).
    pub fn from_line(line: &[u8]) -> Lines {
        let mut l = Lines::default();
        l.push(line);
        l
    }
}

#[derive(Debug)]
pub struct LineSplitter {
    max: usize,
    partial: Vec<u8>,
}

impl LineSplitter {
    pub fn new(max: usize) -> LineSplitter {
        assert!(max >= 4, "a line bound must hold one UTF-8 character");
        LineSplitter { max, partial: Vec::new() }
    }

    /// Feeds `data`; returns the lines it completed (without their newline, and
    /// without a `\r` just before it).
    pub fn push(&mut self, mut data: &[u8]) -> Lines {
        // One allocation for the text: at most what came in and what was pending.
        let mut out = Lines { data: Vec::with_capacity(data.len() + self.partial.len()), ends: Vec::new() };
        while !data.is_empty() {
            let room = self.max - self.partial.len();
            match memchr::memchr(b'\n', &data[..data.len().min(room + 1)]) {
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
                None if data.len() < room => {
                    self.partial.extend_from_slice(data);
                    data = &[];
                }
                None => {
                    // The line would exceed the bound: emit a full piece.
                    let take = utf8_cut(&self.partial, &data[..room]);
                    self.partial.extend_from_slice(&data[..take]);
                    out.push(&self.partial);
                    self.partial.clear();
                    data = &data[take..];
                }
            }
        }
        out
    }

    /// The last line, if the stream ended without a newline.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
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
        assert_eq!(collect(&mut s, b"lmn"), vec![b"klmn".to_vec()]);
        assert_eq!(s.finish(), None);
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
        assert_eq!(total, 100 * 64);
    }
}
