//! Numbers as text, both ways, without `core::fmt` (which would bring its
//! formatting machinery into a binary meant to stay a few pages).

/// Parses a non-negative decimal number of at most `max`: digits only.
fn parse_decimal(s: &[u8], max: u64) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add((b - b'0') as u64)?;
        if n > max {
            return None;
        }
    }
    Some(n)
}

/// A pid or process group id: digits only, at most `i32::MAX`.
pub fn parse_pid(s: &[u8]) -> Option<i32> {
    parse_decimal(s, i32::MAX as u64).map(|n| n as i32)
}

pub fn parse_u64(s: &[u8]) -> Option<u64> {
    parse_decimal(s, u64::MAX)
}

/// `n` in decimal, written at the end of `buf`.
pub fn format_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

pub fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !first.is_ascii_whitespace() {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !last.is_ascii_whitespace() {
            break;
        }
        s = rest;
    }
    s
}

pub fn split_once(s: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let i = s.iter().position(|&b| b == sep)?;
    Some((&s[..i], &s[i + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_both_ways() {
        assert_eq!(parse_pid(b"4194304"), Some(4194304));
        assert_eq!(parse_pid(b"2147483647"), Some(i32::MAX));
        assert_eq!(parse_pid(b"2147483648"), None);
        assert_eq!(parse_pid(b"99999999999999999999999"), None);
        for bad in [&b""[..], b"-1", b"+1", b"1 ", b"1x", b"x"] {
            assert_eq!(parse_pid(bad), None, "{bad:?}");
        }
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        let mut buf = [0; 20];
        assert_eq!(format_u64(0, &mut buf), b"0");
        assert_eq!(format_u64(1207, &mut buf), b"1207");
        assert_eq!(format_u64(u64::MAX, &mut buf), b"18446744073709551615");
    }

    #[test]
    fn trims_and_splits() {
        assert_eq!(trim(b" \t+12 \r"), b"+12");
        assert_eq!(trim(b"   "), b"");
        assert_eq!(split_once(b"12 345", b' '), Some((&b"12"[..], &b"345"[..])));
        assert_eq!(split_once(b"12", b' '), None);
    }
}
