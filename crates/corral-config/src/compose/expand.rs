//! Load-time `$VAR` expansion of a process-compose file, as process-compose does
//! it: on the file's text, before YAML parsing, with `.env` values first and
//! then corral's environment; `$$` is a literal `$`; an unset variable expands
//! to nothing. The syntax is drone/envsubst's (bash's parameter expansion):
//! `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME-word}`, `${NAME:=word}`,
//! `${NAME=word}`, `${NAME:+word}`, `${NAME+word}`, `${#NAME}`. Other bash forms
//! are an error naming the line rather than a silent difference.

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
        let line = text[..i].matches('\n').count() + 1;
        match bytes.get(i + 1) {
            Some(b'$') => {
                out.push('$');
                i += 2;
            }
            Some(b'{') => {
                let end = closing_brace(text, i + 2).ok_or((line, "\"${\" without its closing \"}\"".to_string()))?;
                let inner = &text[i + 2..end];
                out.push_str(&braced(inner, lookup).map_err(|m| (line, m))?);
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
    Ok(match rest {
        "" => value.unwrap_or_default(),
        r if r.starts_with(":-") || r.starts_with(":=") => if non_empty { value.unwrap() } else { word(&r[2..])? },
        r if r.starts_with('-') || r.starts_with('=') => if set { value.unwrap() } else { word(&r[1..])? },
        r if r.starts_with(":+") => if non_empty { word(&r[2..])? } else { String::new() },
        r if r.starts_with('+') => if set { word(&r[1..])? } else { String::new() },
        r if r.starts_with(":?") || r.starts_with('?') => match non_empty {
            true => value.unwrap(),
            false => return Err(format!("${{{name}}} is required: {}", r.trim_start_matches(':').trim_start_matches('?'))),
        },
        _ => return Err(format!("\"${{{inner}}}\": this form of expansion is not supported (use $NAME, ${{NAME}} or ${{NAME:-default}}, or $$ for a literal $)")),
    })
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
    fn errors_name_the_line() {
        assert_eq!(ex("a\nb ${HOME").unwrap_err().0, 2);
        assert!(ex("${HOME/u/v}").unwrap_err().1.contains("not supported"));
        assert!(ex("${NOPE:?set it}").unwrap_err().1.contains("set it"));
    }
}
