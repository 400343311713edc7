//! The dashboard's log lines: a bounded buffer (memory stays flat whatever
//! the log volume), lines made safe to draw, and search.

use std::collections::VecDeque;
use std::rc::Rc;
use std::time::SystemTime;

/// Lines kept in memory for the merged view (and each process's view).
pub const MAX_LINES: usize = 10_000;
/// Longer lines are cut (a process printing megabytes on one line must not).
pub const MAX_LINE_CHARS: usize = 2_000;

#[derive(Debug, Clone)]
pub struct LogLine {
    pub process: Rc<str>,
    pub text: String,
    /// When the dashboard received it (the protocol carries no time); None
    /// for lines read back from before the dashboard started.
    pub at: Option<SystemTime>,
}

/// A ring of lines: the oldest go when it is full.
#[derive(Debug)]
pub struct LogBuffer {
    lines: VecDeque<Rc<LogLine>>,
    cap: usize,
}

impl LogBuffer {
    pub fn new(cap: usize) -> LogBuffer {
        LogBuffer { lines: VecDeque::new(), cap }
    }

    pub fn push(&mut self, line: Rc<LogLine>) {
        if self.lines.len() == self.cap {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn get(&self, i: usize) -> Option<&Rc<LogLine>> {
        self.lines.get(i)
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Rc<LogLine>> + ExactSizeIterator {
        self.lines.iter()
    }
}

/// A line as it can be drawn: escape sequences removed (a process must not
/// be able to move the cursor or change the dashboard's terminal), other
/// control characters shown as `�`, tabs as spaces, length bounded.
pub fn sanitize(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len().min(MAX_LINE_CHARS));
    let mut chars = raw.chars().peekable();
    let mut n = 0;
    while let Some(c) = chars.next() {
        if n >= MAX_LINE_CHARS {
            out.push('…');
            break;
        }
        match c {
            '\x1b' => {
                // CSI: ESC [ params final (0x40..=0x7e); OSC: ESC ] … BEL or ESC \; else ESC + one char.
                match chars.next() {
                    Some('[') => {
                        for c in chars.by_ref() {
                            if ('\x40'..='\x7e').contains(&c) {
                                break;
                            }
                        }
                    }
                    Some(']') => {
                        while let Some(c) = chars.next() {
                            if c == '\x07' || (c == '\x1b' && chars.peek() == Some(&'\\')) {
                                chars.next_if_eq(&'\\');
                                break;
                            }
                        }
                    }
                    _ => {}
                }
            }
            '\t' => {
                out.push_str("    ");
                n += 4;
            }
            c if c.is_control() => {
                out.push('\u{fffd}');
                n += 1;
            }
            c => {
                out.push(c);
                n += 1;
            }
        }
    }
    out
}

/// Byte ranges of `needle` (case-insensitive for ASCII) in `hay`.
pub fn find_all(hay: &str, needle: &str) -> Vec<(usize, usize)> {
    if needle.is_empty() {
        return Vec::new();
    }
    let lower_hay = hay.to_ascii_lowercase();
    let lower_needle = needle.to_ascii_lowercase();
    lower_hay.match_indices(&lower_needle).map(|(i, m)| (i, i + m.len())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(t: &str) -> Rc<LogLine> {
        Rc::new(LogLine { process: "a".into(), text: t.into(), at: None })
    }

    #[test]
    fn the_buffer_keeps_the_newest_lines_only() {
        let mut b = LogBuffer::new(3);
        for i in 0..5 {
            b.push(line(&i.to_string()));
        }
        assert_eq!(b.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(), ["2", "3", "4"]);
    }

    #[test]
    fn escape_sequences_cannot_reach_the_terminal() {
        assert_eq!(sanitize("\x1b[31mred\x1b[0m plain"), "red plain");
        assert_eq!(sanitize("\x1b]0;title\x07after"), "after");
        assert_eq!(sanitize("\x1b]8;;http://x\x1b\\link"), "link");
        assert_eq!(sanitize("a\tb\rc\x08"), "a    b\u{fffd}c\u{fffd}");
        assert_eq!(sanitize(&"x".repeat(5000)).chars().count(), MAX_LINE_CHARS + 1);
    }

    #[test]
    fn search_ignores_ascii_case() {
        assert_eq!(find_all("Error: an error", "error"), vec![(0, 5), (10, 15)]);
        assert!(find_all("abc", "").is_empty());
    }
}
