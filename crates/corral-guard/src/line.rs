//! The line protocol corral speaks to the guardian on its stdin (see
//! `corral_supervisor::guardian`), and a reader that splits stdin into lines
//! in a fixed buffer.

use crate::text::{parse_pid, parse_u64, split_once, trim};

#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// `+PGID`: a group of the run appeared.
    Watch(i32),
    /// `-PGID`: it is gone.
    Unwatch(i32),
    /// `h PGID`: the pre_hook's group (its EXIT trap may run first).
    Hook(i32),
    /// `c PATH`: the run's cgroup.
    Cgroup(&'a [u8]),
    /// `o PID START`: an orphan re-parented to corral, and its start time.
    Orphan(i32, u64),
    /// `bye`: a normal end; touch nothing.
    Bye,
    /// Anything else is ignored (as a newer corral's words would be).
    Unknown,
}

pub fn parse(line: &[u8]) -> Line<'_> {
    let line = trim(line);
    match line {
        b"bye" => Line::Bye,
        [b'+', g @ ..] => parse_pid(g).map_or(Line::Unknown, Line::Watch),
        [b'-', g @ ..] => parse_pid(g).map_or(Line::Unknown, Line::Unwatch),
        [b'h', b' ', g @ ..] => parse_pid(g).map_or(Line::Unknown, Line::Hook),
        [b'c', b' ', dir @ ..] if !dir.is_empty() => Line::Cgroup(dir),
        [b'o', b' ', rest @ ..] => match split_once(rest, b' ') {
            Some((pid, start)) => match (parse_pid(pid), parse_u64(start)) {
                (Some(pid), Some(start)) => Line::Orphan(pid, start),
                _ => Line::Unknown,
            },
            None => Line::Unknown,
        },
        _ => Line::Unknown,
    }
}

/// The longest line kept; a longer one is skipped whole (corral's lines are
/// short: a cgroup path is its longest).
pub const LINE_MAX: usize = 4096;

/// Splits what `read` returns into lines, in a buffer of [`LINE_MAX`] bytes.
pub struct LineReader {
    buf: [u8; LINE_MAX],
    start: usize,
    end: usize,
    /// Inside a line too long to keep: drop bytes up to its newline.
    skipping: bool,
    eof: bool,
}

impl LineReader {
    pub const fn new() -> LineReader {
        LineReader { buf: [0; LINE_MAX], start: 0, end: 0, skipping: false, eof: false }
    }

    /// The next line (without its newline), or `None` at end of input (a
    /// read error counts as the end). A last line without a newline counts.
    pub fn next(&mut self, mut read: impl FnMut(&mut [u8]) -> isize) -> Option<&[u8]> {
        loop {
            if let Some(i) = self.buf[self.start..self.end].iter().position(|&b| b == b'\n') {
                let (from, to) = (self.start, self.start + i);
                self.start = to + 1;
                if core::mem::take(&mut self.skipping) {
                    continue;
                }
                return Some(&self.buf[from..to]);
            }
            if self.eof {
                let (from, to) = (self.start, self.end);
                self.start = self.end;
                return (from < to && !self.skipping).then(|| &self.buf[from..to]);
            }
            // Keep the partial line, at the front.
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.end == LINE_MAX {
                self.skipping = true;
                self.end = 0;
            }
            let n = read(&mut self.buf[self.end..]);
            if n <= 0 {
                self.eof = true;
            } else {
                self.end += n as usize;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_of_line() {
        assert_eq!(parse(b"+1234"), Line::Watch(1234));
        assert_eq!(parse(b"-1234 "), Line::Unwatch(1234));
        assert_eq!(parse(b"h 77"), Line::Hook(77));
        assert_eq!(parse(b"c /sys/fs/cgroup/a b/corral-9"), Line::Cgroup(b"/sys/fs/cgroup/a b/corral-9"));
        assert_eq!(parse(b"o 501 123456789"), Line::Orphan(501, 123456789));
        assert_eq!(parse(b"bye\r"), Line::Bye);
    }

    #[test]
    fn ignores_what_it_does_not_understand() {
        for bad in [&b""[..], b"+", b"+-3", b"+3x", b"h", b"h x", b"c ", b"o 1", b"o 1 x", b"o x 1", b"byebye", b"9999999999", b"+9999999999"] {
            assert_eq!(parse(bad), Line::Unknown, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    /// Feeds `input` to a reader in chunks of `chunk` bytes; the lines it yields.
    fn lines(input: &[u8], chunk: usize) -> Vec<Vec<u8>> {
        let mut reader = Box::new(LineReader::new());
        let mut rest = input;
        let mut out = Vec::new();
        while let Some(line) = reader.next(|buf| {
            let n = rest.len().min(chunk).min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
            n as isize
        }) {
            out.push(line.to_vec());
        }
        out
    }

    #[test]
    fn splits_lines_across_reads() {
        for chunk in [1, 2, 5, 4096] {
            assert_eq!(lines(b"+1\n-1\nbye", chunk), [b"+1".to_vec(), b"-1".to_vec(), b"bye".to_vec()], "chunk {chunk}");
            assert_eq!(lines(b"+1\n\n+2\n", chunk), [b"+1".to_vec(), b"".to_vec(), b"+2".to_vec()], "chunk {chunk}");
        }
        assert!(lines(b"", 10).is_empty());
    }

    #[test]
    fn skips_a_line_longer_than_the_buffer_whole() {
        let mut input = b"+1\nc /".to_vec();
        input.extend(std::iter::repeat_n(b'x', 3 * LINE_MAX));
        input.extend(b"\n+2\n");
        for chunk in [7, 4096, 100_000] {
            assert_eq!(lines(&input, chunk), [b"+1".to_vec(), b"+2".to_vec()], "chunk {chunk}");
        }
        // An overlong last line without a newline is skipped too.
        let mut input = b"+1\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', LINE_MAX + 1));
        assert_eq!(lines(&input, 4096), [b"+1".to_vec()]);
        // A line of exactly LINE_MAX - 1 bytes fits with its newline.
        let mut input = vec![b'y'; LINE_MAX - 1];
        input.push(b'\n');
        assert_eq!(lines(&input, 4096), [vec![b'y'; LINE_MAX - 1]]);
    }
}
