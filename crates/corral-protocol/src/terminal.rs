//! Making a process's line safe to show beside other processes' lines.
//!
//! Labelled output interleaves many processes on one terminal. A process that
//! prints `\r\x1b[2K` and then `db | ...` would erase its own label and forge
//! another process's line; `\x1b[2J` would clear the screen, an OSC sequence
//! would set the window title (or, on some terminals, the clipboard), and a
//! colour left on would paint the next process's label. So, for labelled
//! output only (log files keep the raw bytes):
//!
//! - SGR sequences (`ESC [ … m`: colours, bold, underline) are kept, and a
//!   reset (`ESC [0m`) ends every line that carried one, so no colour leaks
//!   into the next label;
//! - every other escape sequence (cursor movement, erase, scroll, OSC, DCS,
//!   charset switches, terminal resets) and every C1 control is removed;
//! - other control characters (a carriage return inside a line, backspace,
//!   bell, …) are shown in caret notation (`^M`, `^H`, `^G`), as `cat -v` does;
//!   a tab stays a tab.
//!
//! The line is handled on its own: a sequence cut by the end of a line is
//! dropped, and nothing carries over to the next line.
//!
//! It lives in the protocol crate because every client that prints a
//! process's lines (`corral logs`, `attach`, a dashboard) needs the same rule
//! as the supervisor's own labelled output.

const ESC: u8 = 0x1b;
const BEL: u8 = 0x07;
const RESET: &[u8] = b"\x1b[0m";

/// Whether byte `b` may start something [`sanitize_into`] changes: a control
/// character other than tab, DEL, or the first byte of a UTF-8 C1 control.
#[inline(always)]
fn is_special(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f || b == 0xc2
}

/// Whether `line` needs any change (the common case needs none). This scan
/// is on the path of every labelled line: on x86-64 it looks at 16 bytes per
/// step with SSE2 (part of every x86-64 processor), elsewhere at 8 per step.
pub fn is_plain(line: &[u8]) -> bool {
    plain_but(line, b'\t')
}

/// [`is_plain`] for lines each followed by its newline, scanned as a whole:
/// whether none of them needs any change.
pub fn is_plain_lines(text: &[u8]) -> bool {
    plain_but(text, b'\n')
}

/// Calls `newline` with the index of every `\n` in `text`, in order, and
/// says whether the text is plain apart from its newlines
/// ([`is_plain_lines`]): both in one pass, for the reader of a process's
/// output, which needs both of every batch it reads.
pub fn scan_lines(text: &[u8], mut newline: impl FnMut(usize)) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor has AVX2 (checked just above).
            return unsafe { scan_lines_avx2(text, &mut newline) };
        }
        return scan_lines_sse2(text, &mut newline);
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        text.iter().enumerate().filter(|&(_, &b)| b == b'\n').for_each(|(i, _)| newline(i));
        is_plain_words(text, b'\n')
    }
}

/// [`scan_lines`] 32 bytes at a time, where the processor has AVX2 (most
/// x86-64 processors since 2013); the rest as [`scan_lines_sse2`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn scan_lines_avx2(text: &[u8], newline: &mut impl FnMut(usize)) -> bool {
    use std::arch::x86_64::*;
    let mut blocks = text.chunks_exact(32);
    let mut at = 0;
    let (below_space, del, c2) = (_mm256_set1_epi8(0x1f), _mm256_set1_epi8(0x7f), _mm256_set1_epi8(0xc2u8 as i8));
    let (tab, nl) = (_mm256_set1_epi8(b'\t' as i8), _mm256_set1_epi8(b'\n' as i8));
    let mut specials = _mm256_setzero_si256();
    for block in &mut blocks {
        // SAFETY: reads exactly the 32 bytes of a block of `text`.
        let v = unsafe { _mm256_loadu_si256(block.as_ptr().cast()) };
        let is_nl = _mm256_cmpeq_epi8(v, nl);
        let fine = _mm256_or_si256(_mm256_cmpeq_epi8(v, tab), is_nl);
        let control = _mm256_andnot_si256(fine, _mm256_cmpeq_epi8(_mm256_min_epu8(v, below_space), v));
        specials = _mm256_or_si256(specials, _mm256_or_si256(control, _mm256_or_si256(_mm256_cmpeq_epi8(v, del), _mm256_cmpeq_epi8(v, c2))));
        let mut found = _mm256_movemask_epi8(is_nl) as u32;
        while found != 0 {
            newline(at + found.trailing_zeros() as usize);
            found &= found - 1;
        }
        at += 32;
    }
    let plain = _mm256_movemask_epi8(specials) == 0;
    let mut rest_nl = |i: usize| newline(at + i);
    plain & scan_lines_sse2(blocks.remainder(), &mut rest_nl)
}

/// [`scan_lines`] 16 bytes at a time: a newline mask and a special-byte
/// mask per block (the rule of [`is_plain_sse2`], a newline allowed).
#[cfg(target_arch = "x86_64")]
fn scan_lines_sse2(text: &[u8], newline: &mut impl FnMut(usize)) -> bool {
    use std::arch::x86_64::*;
    let mut blocks = text.chunks_exact(16);
    let mut at = 0;
    // SAFETY: SSE2 is in every x86-64 processor (the target's baseline), and
    // each load reads exactly the 16 bytes of a block of `text`.
    let plain = unsafe {
        let (below_space, del, c2) = (_mm_set1_epi8(0x1f), _mm_set1_epi8(0x7f), _mm_set1_epi8(0xc2u8 as i8));
        let (tab, nl) = (_mm_set1_epi8(b'\t' as i8), _mm_set1_epi8(b'\n' as i8));
        let mut specials = _mm_setzero_si128();
        for block in &mut blocks {
            let v = _mm_loadu_si128(block.as_ptr().cast());
            let is_nl = _mm_cmpeq_epi8(v, nl);
            let fine = _mm_or_si128(_mm_cmpeq_epi8(v, tab), is_nl);
            let control = _mm_andnot_si128(fine, _mm_cmpeq_epi8(_mm_min_epu8(v, below_space), v));
            specials = _mm_or_si128(specials, _mm_or_si128(control, _mm_or_si128(_mm_cmpeq_epi8(v, del), _mm_cmpeq_epi8(v, c2))));
            let mut found = _mm_movemask_epi8(is_nl) as u32;
            while found != 0 {
                newline(at + found.trailing_zeros() as usize);
                found &= found - 1;
            }
            at += 16;
        }
        _mm_movemask_epi8(specials) == 0
    };
    let rest = blocks.remainder();
    rest.iter().enumerate().filter(|&(_, &b)| b == b'\n').for_each(|(i, _)| newline(at + i));
    plain && is_plain_words(rest, b'\n')
}

/// Whether `text` holds no special byte other than `allowed`.
fn plain_but(text: &[u8], allowed: u8) -> bool {
    #[cfg(target_arch = "x86_64")]
    return is_plain_sse2(text, allowed);
    #[cfg(not(target_arch = "x86_64"))]
    return is_plain_words(text, allowed);
}

/// [`plain_but`] 16 bytes at a time.
#[cfg(target_arch = "x86_64")]
fn is_plain_sse2(line: &[u8], allowed: u8) -> bool {
    use std::arch::x86_64::*;
    let mut blocks = line.chunks_exact(16);
    // SAFETY: SSE2 is in every x86-64 processor (the target's baseline), and
    // each load reads exactly the 16 bytes of a block of `line`.
    unsafe {
        let (below_space, del, c2) = (_mm_set1_epi8(0x1f), _mm_set1_epi8(0x7f), _mm_set1_epi8(0xc2u8 as i8));
        let (tab, allowed) = (_mm_set1_epi8(b'\t' as i8), _mm_set1_epi8(allowed as i8));
        for block in &mut blocks {
            let v = _mm_loadu_si128(block.as_ptr().cast());
            // v <= 0x1f (unsigned) exactly when min(v, 0x1f) == v; a tab (and `allowed`) is allowed.
            let fine = _mm_or_si128(_mm_cmpeq_epi8(v, tab), _mm_cmpeq_epi8(v, allowed));
            let control = _mm_andnot_si128(fine, _mm_cmpeq_epi8(_mm_min_epu8(v, below_space), v));
            let special = _mm_or_si128(control, _mm_or_si128(_mm_cmpeq_epi8(v, del), _mm_cmpeq_epi8(v, c2)));
            if _mm_movemask_epi8(special) != 0 {
                return false;
            }
        }
    }
    is_plain_words(blocks.remainder(), allowed)
}

/// [`plain_but`] 8 bytes at a time (see [`word_may_be_special`]), byte by byte
/// only in a word that may hold a special byte (a tab, say) and at the end.
fn is_plain_words(line: &[u8], allowed: u8) -> bool {
    let special = |&b: &u8| is_special(b) && b != allowed;
    let mut words = line.chunks_exact(8);
    for word in &mut words {
        let w = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        if word_may_be_special(w) && word.iter().any(special) {
            return false;
        }
    }
    !words.remainder().iter().any(special)
}

/// Whether some byte of `w` is below 0x20 (a tab too), 0x7f or 0xc2; never
/// false when one is. The classic "has a zero byte" test, on `w` and on `w`
/// xor each value: `(x - 0x01…) & !x & 0x80…` is nonzero exactly when some byte
/// of x is zero, and `(w - 0x20…) & !w & 0x80…` when some byte is below 0x20.
#[inline(always)]
fn word_may_be_special(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x;
    let below_space = w.wrapping_sub(0x20 * ONES) & !w;
    (below_space | zero(w ^ (0x7f * ONES)) | zero(w ^ (0xc2 * ONES))) & HIGH != 0
}

/// Appends the terminal-safe form of `line` to `out`.
pub fn sanitize_into(line: &[u8], out: &mut Vec<u8>) {
    if is_plain(line) {
        out.extend_from_slice(line);
        return;
    }
    sanitize_slow(line, out);
}

/// The rule itself, byte by byte (what [`sanitize_into`] does for a line that is not plain).
fn sanitize_slow(line: &[u8], out: &mut Vec<u8>) {
    let mut styled = false;
    let mut i = 0;
    while i < line.len() {
        let b = line[i];
        match b {
            ESC => {
                let (len, keep) = escape(&line[i..]);
                if keep {
                    out.extend_from_slice(&line[i..i + len]);
                    styled = true;
                } else if len == 1 {
                    out.extend_from_slice(b"^[");
                }
                i += len;
            }
            b'\t' => {
                out.push(b);
                i += 1;
            }
            0x00..=0x1f | 0x7f => {
                out.extend_from_slice(&[b'^', b ^ 0x40]);
                i += 1;
            }
            // U+0080..U+009F in UTF-8: C1 controls (U+009B is a CSI on many terminals).
            0xc2 if matches!(line.get(i + 1), Some(0x80..=0x9f)) => i += 2,
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    if styled {
        out.extend_from_slice(RESET);
    }
}

/// The terminal-safe form of `line` (allocates; for one-off use).
pub fn sanitize(line: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len() + RESET.len());
    sanitize_into(line, &mut out);
    out
}

/// The length of the escape sequence at the start of `s` (which begins with
/// ESC), and whether it is an SGR sequence to keep. A lone ESC has length 1.
fn escape(s: &[u8]) -> (usize, bool) {
    match s.get(1) {
        // CSI: parameters 0x30-0x3F, intermediates 0x20-0x2F, a final 0x40-0x7E.
        Some(b'[') => {
            let mut j = 2;
            while matches!(s.get(j), Some(0x30..=0x3f)) {
                j += 1;
            }
            let params_end = j;
            while matches!(s.get(j), Some(0x20..=0x2f)) {
                j += 1;
            }
            match s.get(j) {
                Some(&f @ 0x40..=0x7e) => {
                    let sgr = f == b'm' && params_end == j && s[2..j].iter().all(|&c| c.is_ascii_digit() || c == b';' || c == b':');
                    (j + 1, sgr)
                }
                // Cut short or malformed: drop what was read as its beginning.
                _ => (j, false),
            }
        }
        // Strings: OSC, DCS, SOS, PM, APC, up to BEL (OSC) or ST (ESC \), or the end of the line.
        Some(b']' | b'P' | b'X' | b'^' | b'_') => {
            let mut j = 2;
            while j < s.len() {
                if s[j] == BEL {
                    return (j + 1, false);
                }
                if s[j] == ESC && s.get(j + 1) == Some(&b'\\') {
                    return (j + 2, false);
                }
                j += 1;
            }
            (j, false)
        }
        // nF sequences (charset designation and the like): intermediates, then a final byte.
        Some(0x20..=0x2f) => {
            let mut j = 1;
            while matches!(s.get(j), Some(0x20..=0x2f)) {
                j += 1;
            }
            (if matches!(s.get(j), Some(0x30..=0x7e)) { j + 1 } else { j }, false)
        }
        // Two-byte sequences: ESC c (reset), ESC 7 / ESC 8 (save, restore cursor), ESC M, …
        Some(0x30..=0x7e) => (2, false),
        _ => (1, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(line: &str) -> String {
        String::from_utf8(sanitize(line.as_bytes())).unwrap()
    }

    #[test]
    fn plain_text_and_tabs_pass_unchanged() {
        assert_eq!(s("hello\tworld é€"), "hello\tworld é€");
    }

    #[test]
    fn colours_are_kept_and_reset_at_the_end_of_the_line() {
        assert_eq!(s("\x1b[31mred\x1b[0m and \x1b[1;38;5;208mbold"), "\x1b[31mred\x1b[0m and \x1b[1;38;5;208mbold\x1b[0m");
        assert_eq!(s("\x1b[38:2:1:2:3mrgb"), "\x1b[38:2:1:2:3mrgb\x1b[0m");
    }

    #[test]
    fn a_forged_line_cannot_erase_the_label() {
        assert_eq!(s("ok\r\x1b[2Kdb | forged"), "ok^Mdb | forged");
        assert_eq!(s("\x1b[1A\x1b[10;1H\x1b[2J\x1b[?25l\x1b[Kx"), "x");
    }

    #[test]
    fn osc_dcs_and_other_sequences_are_removed() {
        assert_eq!(s("a\x1b]0;evil title\x07b"), "ab");
        assert_eq!(s("a\x1b]52;c;cGFzdGU=\x1b\\b"), "ab");
        assert_eq!(s("a\x1bPq#0;2;0;0;0\x1b\\b"), "ab");
        assert_eq!(s("a\x1bcb\x1b7c\x1b8d\x1b(0e\x1b#8f"), "abcdef");
        assert_eq!(s("a\x1b]0;never ended"), "a");
        assert_eq!(s("cut \x1b[12"), "cut ");
    }

    /// The fast path (a plain line copied as is) gives exactly what the rule
    /// gives: every line of random bytes drawn mostly from the interesting
    /// ones, at every length around the 32-byte blocks, and every single byte
    /// at every position of a block.
    #[test]
    fn the_plain_fast_path_agrees_with_the_rule_byte_for_byte() {
        let check = |line: &[u8]| {
            let mut slow = Vec::new();
            sanitize_slow(line, &mut slow);
            assert_eq!(sanitize(line), slow, "{line:?}");
            if is_plain(line) {
                assert_eq!(slow, line, "called plain but the rule changes it: {line:?}");
            }
            assert_eq!(is_plain_words(line, b'\t'), is_plain(line), "{line:?}");
            // As lines with their newlines: plain exactly when every line is.
            let text = [line, b"\n"].concat();
            assert_eq!(is_plain_lines(&text), text.split(|&b| b == b'\n').all(is_plain), "{text:?}");
            assert_eq!(is_plain_words(&text, b'\n'), is_plain_lines(&text), "{text:?}");
            let mut found = Vec::new();
            assert_eq!(scan_lines(&text, |i| found.push(i)), is_plain_lines(&text), "{text:?}");
            let newlines: Vec<usize> = text.iter().enumerate().filter(|&(_, &b)| b == b'\n').map(|(i, _)| i).collect();
            assert_eq!(found, newlines, "{text:?}");
            #[cfg(target_arch = "x86_64")]
            {
                // The SSE2 path too, where AVX2 took the one above.
                let mut sse2 = Vec::new();
                assert_eq!(scan_lines_sse2(&text, &mut |i| sse2.push(i)), is_plain_lines(&text), "{text:?}");
                assert_eq!(sse2, newlines, "{text:?}");
            }
        };
        for b in 0..=255u8 {
            for len in [1, 7, 8, 9, 16, 31, 32, 33, 64, 70] {
                for at in [0, len / 2, len - 1] {
                    let mut line = vec![b'a'; len];
                    line[at] = b;
                    check(&line);
                    assert_eq!(is_plain(&line), !is_special(b), "byte {b:#x} at {at} of {len}");
                    assert_eq!(is_plain_words(&line, b'\t'), !is_special(b), "byte {b:#x} at {at} of {len}");
                    assert_eq!(is_plain_lines(&line), !is_special(b) || b == b'\n', "byte {b:#x} at {at} of {len}");
                }
            }
        }
        // A small deterministic generator (xorshift): no dependency, same cases every run.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        const PICK: &[u8] = b"\x1b\x1b[[[]m;0129\x07\\\t\r\x08\x7f\xc2\x9b\x85aP_^X (#c7";
        for _ in 0..20_000 {
            let len = (next() % 80) as usize;
            let line: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    if r % 4 == 0 { (r >> 8) as u8 } else { PICK[(r >> 8) as usize % PICK.len()] }
                })
                .collect();
            check(&line);
        }
        check(b"");
        // Two bytes in one word: a special one beside each other byte value (borrows between bytes).
        for b in 0..=255u8 {
            for special in [0x00, 0x08, 0x1f, 0x7f, 0xc2] {
                for (i, j) in [(0, 1), (1, 0), (3, 4), (6, 7), (7, 6)] {
                    let mut line = vec![b'a'; 16];
                    line[i] = b;
                    line[j] = special;
                    assert!(!is_plain(&line) && !is_plain_words(&line, b'\t'), "{line:?}");
                }
            }
        }
        assert!(is_plain(b"\t\t\t\t\t\t\t\tplain\twith tabs \xc3\xa9\xe2\x82\xac"));
    }

    #[test]
    fn controls_are_shown_and_c1_controls_removed() {
        assert_eq!(s("bell\x07back\x08del\x7f"), "bell^Gback^Hdel^?");
        assert_eq!(s("lone\x1b"), "lone^[");
        assert_eq!(s("c1\u{9b}2Jx\u{85}y"), "c12Jxy");
    }
}
