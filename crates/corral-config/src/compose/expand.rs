//! Load-time `$VAR` expansion of a process-compose file, as process-compose does
//! it: on the file's text, before YAML parsing, with `.env` values first and
//! then corral's environment; `$$` is a literal `$`; an unset variable expands
//! to nothing. The syntax is drone/envsubst's (bash's parameter expansion):
//! `$NAME`, `${NAME}`; defaults `${NAME:-word}`, `${NAME-word}`, `${NAME:=word}`,
//! `${NAME=word}`, `${NAME:+word}`, `${NAME+word}`, `${NAME:?message}`; `${#NAME}`;
//! case `${NAME^}`, `${NAME^^}`, `${NAME,}`, `${NAME,,}`; substrings
//! `${NAME:offset}`, `${NAME:offset:length}`; trimming `${NAME#pattern}`,
//! `${NAME##pattern}`, `${NAME%pattern}`, `${NAME%%pattern}`; replacing
//! `${NAME/pattern/text}`, `${NAME//pattern/text}`, `${NAME/#pattern/text}`,
//! `${NAME/%pattern/text}` (patterns are glob patterns: `*`, `?`). Any other
//! form is an error naming the line rather than a silent difference.

/// Expands `text`; `lookup` gives a variable's value. The error is `(line, message)`.
pub(crate) fn expand(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, (usize, String)> {
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let Some(off) = text[i..].find('$') else {
            out.push_str(&text[i..]);
            break;
        };
        out.push_str(&text[i..i + off]);
        i += off;
        // Counted only for an error: counting at every `$` would be quadratic.
        let line = |at: usize| text[..at].matches('\n').count() + 1;
        match bytes.get(i + 1) {
            Some(b'$') => {
                out.push('$');
                i += 2;
            }
            Some(b'{') => {
                let end = closing_brace(text, i + 2).ok_or_else(|| (line(i), "\"${\" without its closing \"}\"".to_string()))?;
                let inner = &text[i + 2..end];
                out.push_str(&braced(inner, lookup).map_err(|m| (line(i), m))?);
                i = end + 1;
            }
            Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {
                let len = text[i + 1..].bytes().take_while(|c| c.is_ascii_alphanumeric() || *c == b'_').count();
                out.push_str(&lookup(&text[i + 1..i + 1 + len]).unwrap_or_default());
                i += 1 + len;
            }
            _ => {
                out.push('$');
                i += 1;
            }
        }
    }
    Ok(out)
}

/// The index of the `}` closing a `${` whose contents start at `from` (nesting counted).
fn closing_brace(text: &str, from: usize) -> Option<usize> {
    let mut depth = 1;
    let bytes = text.as_bytes();
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'{' if i > 0 && bytes[i - 1] == b'$' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            b'\n' => return None,
            _ => {}
        }
        i += 1;
    }
    None
}

fn braced(inner: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    if let Some(name) = inner.strip_prefix('#') {
        if is_name(name) {
            return Ok(lookup(name).unwrap_or_default().chars().count().to_string());
        }
    }
    let name_len = inner.bytes().take_while(|c| c.is_ascii_alphanumeric() || *c == b'_').count();
    let (name, rest) = inner.split_at(name_len);
    if !is_name(name) {
        return Err(format!("\"${{{inner}}}\" is not a variable reference process-compose expands"));
    }
    let value = lookup(name);
    let word = |w: &str| expand(w, lookup).map_err(|(_, m)| m);
    let set = value.is_some();
    let non_empty = value.as_deref().is_some_and(|v| !v.is_empty());
    let v = || value.clone().unwrap_or_default();
    let two = |r: &str, n: usize| word(&r[n..]);
    Ok(match rest {
        "" => v(),
        "^^" => v().to_uppercase(),
        "^" => first_char(&v(), true),
        ",," => v().to_lowercase(),
        "," => first_char(&v(), false),
        r if r.starts_with(":-") || r.starts_with(":=") => if non_empty { v() } else { two(r, 2)? },
        r if r.starts_with(":+") => if non_empty { two(r, 2)? } else { String::new() },
        r if r.starts_with(":?") => if non_empty { v() } else { return Err(format!("${{{name}}} is required: {}", &r[2..])) },
        r if r.starts_with(':') => substring(&v(), &r[1..]).ok_or_else(|| format!("\"${{{inner}}}\": expected ${{{name}:offset}} or ${{{name}:offset:length}}"))?,
        r if r.starts_with('-') || r.starts_with('=') => if set { v() } else { two(r, 1)? },
        r if r.starts_with('+') => if set { two(r, 1)? } else { String::new() },
        r if r.starts_with('?') => if set { v() } else { return Err(format!("${{{name}}} is required: {}", &r[1..])) },
        r if r.starts_with("##") => trim_prefix(&v(), &two(r, 2)?, true),
        r if r.starts_with('#') => trim_prefix(&v(), &two(r, 1)?, false),
        r if r.starts_with("%%") => trim_suffix(&v(), &two(r, 2)?, true),
        r if r.starts_with('%') => trim_suffix(&v(), &two(r, 1)?, false),
        r if r.starts_with('/') => {
            let (mode, body) = match &r[1..] {
                b if b.starts_with('/') => (Replace::All, &b[1..]),
                b if b.starts_with('#') => (Replace::Prefix, &b[1..]),
                b if b.starts_with('%') => (Replace::Suffix, &b[1..]),
                b => (Replace::First, b),
            };
            let (pattern, with) = body.split_once('/').unwrap_or((body, ""));
            replace(&v(), &word(pattern)?, &word(with)?, mode)
        }
        _ => return Err(format!("\"${{{inner}}}\": this form of expansion is not supported (see docs/config.md; write $$ for a literal $)")),
    })
}

fn first_char(s: &str, upper: bool) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) if upper => f.to_uppercase().chain(c).collect(),
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// `offset` or `offset:length`, in characters; a negative offset counts from the end.
fn substring(s: &str, spec: &str) -> Option<String> {
    let chars: Vec<char> = s.chars().collect();
    let (off, len) = match spec.split_once(':') {
        Some((o, l)) => (o, Some(l)),
        None => (spec, None),
    };
    let off: i64 = off.trim().parse().ok()?;
    let start = if off < 0 { (chars.len() as i64 + off).max(0) as usize } else { (off as usize).min(chars.len()) };
    let end = match len {
        None => chars.len(),
        Some(l) => {
            let l: i64 = l.trim().parse().ok()?;
            if l < 0 { ((chars.len() as i64) + l).max(start as i64) as usize } else { (start + l as usize).min(chars.len()) }
        }
    };
    Some(chars[start..end].iter().collect())
}

/// Char boundaries of `s`, including its end.
fn cuts(s: &str) -> Vec<usize> {
    s.char_indices().map(|(i, _)| i).chain(std::iter::once(s.len())).collect()
}

fn trim_prefix(s: &str, pattern: &str, longest: bool) -> String {
    let cuts = cuts(s);
    let mut it: Box<dyn Iterator<Item = &usize>> = if longest { Box::new(cuts.iter().rev()) } else { Box::new(cuts.iter()) };
    match it.find(|&&i| glob(pattern, &s[..i])) {
        Some(&i) => s[i..].to_string(),
        None => s.to_string(),
    }
}

fn trim_suffix(s: &str, pattern: &str, longest: bool) -> String {
    let cuts = cuts(s);
    let mut it: Box<dyn Iterator<Item = &usize>> = if longest { Box::new(cuts.iter()) } else { Box::new(cuts.iter().rev()) };
    match it.find(|&&i| glob(pattern, &s[i..])) {
        Some(&i) => s[..i].to_string(),
        None => s.to_string(),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Replace {
    First,
    All,
    Prefix,
    Suffix,
}

/// bash's `${NAME/pattern/text}` family: the longest match at each place.
fn replace(s: &str, pattern: &str, with: &str, mode: Replace) -> String {
    if pattern.is_empty() {
        return s.to_string();
    }
    let cuts = cuts(s);
    match mode {
        Replace::Prefix => match cuts.iter().rev().find(|&&e| glob(pattern, &s[..e])) {
            Some(&e) => format!("{with}{}", &s[e..]),
            None => s.to_string(),
        },
        Replace::Suffix => match cuts.iter().find(|&&b| glob(pattern, &s[b..])) {
            Some(&b) => format!("{}{with}", &s[..b]),
            None => s.to_string(),
        },
        Replace::First | Replace::All => {
            let mut out = String::new();
            let mut i = 0;
            let mut replaced = false;
            while i < s.len() {
                let found = if replaced && mode == Replace::First {
                    None
                } else {
                    cuts.iter().rev().filter(|&&e| e > i).find(|&&e| glob(pattern, &s[i..e])).copied()
                };
                match found {
                    Some(e) => {
                        out.push_str(with);
                        i = e;
                        replaced = true;
                    }
                    None => {
                        let c = s[i..].chars().next().expect("in bounds");
                        out.push(c);
                        i += c.len_utf8();
                    }
                }
            }
            out
        }
    }
}

/// A shell glob: `*` any text, `?` one character, everything else literal.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

fn is_name(s: &str) -> bool {
    s.bytes().next().is_some_and(|c| c.is_ascii_alphabetic() || c == b'_') && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

#[cfg(test)]
mod tests {
    fn ex(text: &str) -> Result<String, (usize, String)> {
        super::expand(text, &|n| match n {
            "HOME" => Some("/home/u".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        })
    }

    #[test]
    fn forms() {
        assert_eq!(ex("a $HOME ${HOME}/x $NOPE.").unwrap(), "a /home/u /home/u/x .");
        assert_eq!(ex("$$HOME costs $$5 $").unwrap(), "$HOME costs $5 $");
        assert_eq!(ex("$$$HOME").unwrap(), "$/home/u");
        assert_eq!(ex("${NOPE:-def} ${EMPTY:-d2} ${EMPTY-d3} ${NOPE-${HOME}}").unwrap(), "def d2  /home/u");
        assert_eq!(ex("${HOME:+set} ${NOPE:+set} ${#HOME}").unwrap(), "set  7");
        assert_eq!(ex("cost: $5").unwrap(), "cost: $5");
    }

    #[test]
    fn envsubst_functions() {
        assert_eq!(ex("${HOME^^} ${HOME^} ${HOME,,}").unwrap(), "/HOME/U /home/u /home/u");
        assert_eq!(ex("${HOME:1} ${HOME:1:4} ${HOME: -1}").unwrap(), "home/u home u");
        assert_eq!(ex("${HOME#/} ${HOME##*/} ${HOME%/*} ${HOME%%o*}").unwrap(), "home/u u /home /h");
        assert_eq!(ex("${HOME/home/x} ${HOME//h*e/X} ${HOME/#*h/H} ${HOME/%u/U} ${HOME//[/x}").unwrap(), "/x/u /X/u Home/u /home/U /home/u");
        assert_eq!(ex("${HOME/o/0}").unwrap(), "/h0me/u");
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(ex("a\nb ${HOME").unwrap_err().0, 2);
        assert!(ex("${HOME@Q}").unwrap_err().1.contains("not supported"));
        assert!(ex("${NOPE:?set it}").unwrap_err().1.contains("set it"));
    }
}
