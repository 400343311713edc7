//! `vars` and their templates: process-compose renders `{{.NAME}}` in a
//! process's command, working_dir, log_location, description, environment
//! values and probe fields with Go's text/template, from the global `vars`,
//! the process's own `vars` (which win) and `PC_REPLICA_NUM`.
//!
//! corral renders the form real files use, `{{.NAME}}` (spaces and `-` trim
//! markers allowed); any other template action is an error naming it, and so is
//! a name that is in no `vars` (Go would print "<no value>" and run the command).

use serde_json::{Map, Value};

/// Fields rendered, as paths inside a process.
const RENDERED: &[&[&str]] = &[
    &["command"],
    &["working_dir"],
    &["log_location"],
    &["description"],
    &["readiness_probe", "exec", "command"],
    &["liveness_probe", "exec", "command"],
    &["readiness_probe", "http_get", "path"],
    &["readiness_probe", "http_get", "host"],
    &["readiness_probe", "http_get", "scheme"],
    &["readiness_probe", "http_get", "port"],
    &["liveness_probe", "http_get", "path"],
    &["liveness_probe", "http_get", "host"],
    &["liveness_probe", "http_get", "scheme"],
    &["liveness_probe", "http_get", "port"],
];

/// Renders one process's templates in place. The error is `(field path inside the process, message)`.
pub(crate) fn render_process(process: &mut Map<String, Value>, vars: &Map<String, Value>) -> Result<(), (Vec<String>, String)> {
    let command_disabled = process.get("is_template_disabled").and_then(Value::as_bool).unwrap_or(false);
    for path in RENDERED {
        if command_disabled && path == &["command"] {
            continue;
        }
        let Some(Value::String(text)) = get_mut(process, path) else { continue };
        let rendered = render(text, vars).map_err(|m| (path.iter().map(|s| s.to_string()).collect::<Vec<_>>(), m))?;
        *text = rendered;
    }
    match process.get_mut("environment") {
        Some(Value::Array(items)) => {
            for (i, item) in items.iter_mut().enumerate() {
                if let Value::String(text) = item {
                    *text = render(text, vars).map_err(|m| (vec!["environment".into(), i.to_string()], m))?;
                }
            }
        }
        Some(Value::Object(map)) => {
            for (k, item) in map.iter_mut() {
                if let Value::String(text) = item {
                    *text = render(text, vars).map_err(|m| (vec!["environment".into(), k.clone()], m))?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn get_mut<'a>(map: &'a mut Map<String, Value>, path: &[&str]) -> Option<&'a mut Value> {
    let (first, rest) = path.split_first()?;
    let v = map.get_mut(*first)?;
    if rest.is_empty() {
        return Some(v);
    }
    get_mut(v.as_object_mut()?, rest)
}

/// Renders the Go template `text` with `vars`.
pub(crate) fn render(text: &str, vars: &Map<String, Value>) -> Result<String, String> {
    if !text.contains("{{") {
        return Ok(text.to_string());
    }
    let items = split(text)?;
    let mut pos = 0;
    let (nodes, stop) = parse_nodes(&items, &mut pos)?;
    if let Some(stop) = stop {
        return Err(format!("template has {{{{{stop}}}}} without a matching {{{{if}}}}"));
    }
    let mut out = String::new();
    run(&nodes, vars, &mut out)?;
    Ok(out)
}

/// Text and actions, with `{{-`/`-}}` trimming applied.
enum Item {
    Text(String),
    Action(String),
}

fn split(text: &str) -> Result<Vec<Item>, String> {
    let mut items = Vec::new();
    let mut rest = text;
    let mut trim_next = false;
    while let Some(start) = rest.find("{{") {
        let mut before = &rest[..start];
        if trim_next {
            before = before.trim_start();
        }
        let after = &rest[start + 2..];
        let end = action_end(after).ok_or_else(|| format!("template \"{}\" has no closing \"}}}}\"", clip(&rest[start..])))?;
        let mut action = &after[..end];
        if let Some(a) = action.strip_prefix("- ") {
            before = before.trim_end();
            action = a;
        }
        trim_next = false;
        if let Some(a) = action.strip_suffix(" -") {
            trim_next = true;
            action = a;
        }
        items.push(Item::Text(before.to_string()));
        items.push(Item::Action(action.trim().to_string()));
        rest = &after[end + 2..];
    }
    items.push(Item::Text(if trim_next { rest.trim_start().to_string() } else { rest.to_string() }));
    Ok(items)
}

/// Where `}}` closes an action, skipping string literals (`{{ "{{.X}}" }}`).
fn action_end(after: &str) -> Option<usize> {
    let b = after.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < b.len() {
        match (quote, b[i]) {
            (None, b'}') if b.get(i + 1) == Some(&b'}') => return Some(i),
            (None, q @ (b'"' | b'`')) => quote = Some(q),
            (Some(b'"'), b'\\') => i += 1,
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
        i += 1;
    }
    None
}

enum Node {
    Text(String),
    Print(Expr),
    /// `if` / `else if` branches, then the `else` branch.
    If(Vec<(Expr, Vec<Node>)>, Vec<Node>),
}

/// Nodes up to an `else`/`end` (returned as the stop word) or the end of the items.
fn parse_nodes(items: &[Item], pos: &mut usize) -> Result<(Vec<Node>, Option<String>), String> {
    let mut nodes = Vec::new();
    while *pos < items.len() {
        let item = &items[*pos];
        *pos += 1;
        match item {
            Item::Text(t) => nodes.push(Node::Text(t.clone())),
            Item::Action(a) if a.starts_with("/*") => {}
            Item::Action(a) if a == "end" || a == "else" || a.starts_with("else ") => return Ok((nodes, Some(a.clone()))),
            Item::Action(a) if a.starts_with("if ") => {
                let mut branches = vec![(parse_expr(&a[3..])?, Vec::new())];
                let mut otherwise = Vec::new();
                loop {
                    let (body, stop) = parse_nodes(items, pos)?;
                    match stop.as_deref() {
                        None => return Err(format!("{{{{{a}}}}} has no {{{{end}}}}")),
                        Some("end") => {
                            if otherwise.is_empty() && branches.last().is_some_and(|b| b.1.is_empty()) {
                                branches.last_mut().unwrap().1 = body;
                            } else {
                                otherwise = body;
                            }
                            break;
                        }
                        Some("else") => {
                            branches.last_mut().unwrap().1 = body;
                            let (rest, stop) = parse_nodes(items, pos)?;
                            if stop.as_deref() != Some("end") {
                                return Err(format!("{{{{{a}}}}}: expected {{{{end}}}} after {{{{else}}}}"));
                            }
                            otherwise = rest;
                            break;
                        }
                        Some(other) => {
                            let cond = other.strip_prefix("else if ").ok_or_else(|| format!("{{{{{other}}}}} is not supported"))?;
                            branches.last_mut().unwrap().1 = body;
                            branches.push((parse_expr(cond)?, Vec::new()));
                        }
                    }
                }
                nodes.push(Node::If(branches, otherwise));
            }
            Item::Action(a) => nodes.push(Node::Print(parse_expr(a)?)),
        }
    }
    Ok((nodes, None))
}

fn run(nodes: &[Node], vars: &Map<String, Value>, out: &mut String) -> Result<(), String> {
    for n in nodes {
        match n {
            Node::Text(t) => out.push_str(t),
            Node::Print(e) => out.push_str(&show(&eval(e, vars)?)),
            Node::If(branches, otherwise) => {
                let mut chosen = otherwise;
                for (cond, body) in branches {
                    if truthy(&eval(cond, vars)?) {
                        chosen = body;
                        break;
                    }
                }
                run(chosen, vars, out)?;
            }
        }
    }
    Ok(())
}

/// An expression: a value, or a function applied to arguments.
enum Expr {
    Field(String),
    Literal(Value),
    Call(String, Vec<Expr>),
}

const FUNCTIONS: &[&str] = &["and", "or", "not", "eq", "ne", "lt", "le", "gt", "ge", "len", "print"];

fn parse_expr(text: &str) -> Result<Expr, String> {
    let tokens = tokenize(text)?;
    let mut pos = 0;
    let e = parse_command(&tokens, &mut pos, text)?;
    if pos != tokens.len() {
        return Err(unsupported(text));
    }
    Ok(e)
}

#[derive(Clone, PartialEq)]
enum Token {
    Field(String),
    Word(String),
    Literal(Value),
    Open,
    Close,
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' => i += 1,
            '(' => {
                out.push(Token::Open);
                i += 1;
            }
            ')' => {
                out.push(Token::Close);
                i += 1;
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(format!("template action \"{{{{{}}}}}\" has an unterminated string", clip(text))),
                        Some('"') => break,
                        Some('\\') => {
                            i += 1;
                            match chars.get(i) {
                                Some('n') => s.push('\n'),
                                Some('t') => s.push('\t'),
                                Some(other) => s.push(*other),
                                None => return Err(format!("template action \"{{{{{}}}}}\" has an unterminated string", clip(text))),
                            }
                        }
                        Some(other) => s.push(*other),
                    }
                    i += 1;
                }
                i += 1;
                out.push(Token::Literal(Value::String(s)));
            }
            '`' => {
                let end = chars[i + 1..].iter().position(|c| *c == '`').ok_or_else(|| unsupported(text))?;
                out.push(Token::Literal(Value::String(chars[i + 1..i + 1 + end].iter().collect())));
                i += end + 2;
            }
            _ => {
                let start = i;
                while i < chars.len() && !matches!(chars[i], ' ' | '\t' | '\n' | '(' | ')' | '"' | '`') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                out.push(match word.as_str() {
                    "true" => Token::Literal(Value::Bool(true)),
                    "false" => Token::Literal(Value::Bool(false)),
                    w if w.starts_with('.') && w.len() > 1 && w[1..].chars().all(|c| c.is_alphanumeric() || c == '_') => Token::Field(w[1..].to_string()),
                    w if w.parse::<i64>().is_ok() => Token::Literal(Value::from(w.parse::<i64>().unwrap())),
                    w if w.parse::<f64>().is_ok() => Token::Literal(serde_json::Number::from_f64(w.parse().unwrap()).map_or(Value::Null, Value::Number)),
                    w if FUNCTIONS.contains(&w) => Token::Word(w.to_string()),
                    _ => return Err(unsupported(text)),
                });
            }
        }
    }
    Ok(out)
}

fn parse_command(tokens: &[Token], pos: &mut usize, text: &str) -> Result<Expr, String> {
    match tokens.get(*pos) {
        Some(Token::Word(f)) => {
            *pos += 1;
            let mut args = Vec::new();
            while *pos < tokens.len() && tokens[*pos] != Token::Close {
                args.push(parse_operand(tokens, pos, text)?);
            }
            Ok(Expr::Call(f.clone(), args))
        }
        _ => parse_operand(tokens, pos, text),
    }
}

fn parse_operand(tokens: &[Token], pos: &mut usize, text: &str) -> Result<Expr, String> {
    let t = tokens.get(*pos).ok_or_else(|| unsupported(text))?.clone();
    *pos += 1;
    match t {
        Token::Field(f) => Ok(Expr::Field(f)),
        Token::Literal(v) => Ok(Expr::Literal(v)),
        Token::Open => {
            let e = parse_command(tokens, pos, text)?;
            if tokens.get(*pos) != Some(&Token::Close) {
                return Err(unsupported(text));
            }
            *pos += 1;
            Ok(e)
        }
        Token::Word(_) | Token::Close => Err(unsupported(text)),
    }
}

fn eval(e: &Expr, vars: &Map<String, Value>) -> Result<Value, String> {
    match e {
        Expr::Literal(v) => Ok(v.clone()),
        Expr::Field(name) => vars.get(name).cloned().ok_or_else(|| {
            let mut known: Vec<&str> = vars.keys().map(String::as_str).collect();
            known.sort();
            format!("template names {{{{.{name}}}}}, which is not in vars (defined: {})", known.join(", "))
        }),
        Expr::Call(f, args) => {
            let need = |n: usize| if args.len() == n { Ok(()) } else { Err(format!("template function {f} takes {n} argument(s), got {}", args.len())) };
            match f.as_str() {
                "and" | "or" => {
                    if args.is_empty() {
                        return Err(format!("template function {f} needs arguments"));
                    }
                    let mut last = Value::Null;
                    for a in args {
                        last = eval(a, vars)?;
                        if truthy(&last) == (f == "or") {
                            return Ok(last);
                        }
                    }
                    Ok(last)
                }
                "not" => {
                    need(1)?;
                    Ok(Value::Bool(!truthy(&eval(&args[0], vars)?)))
                }
                "len" => {
                    need(1)?;
                    Ok(Value::from(match eval(&args[0], vars)? {
                        Value::String(s) => s.chars().count(),
                        Value::Array(a) => a.len(),
                        Value::Object(o) => o.len(),
                        other => return Err(format!("len of {other} is not defined")),
                    }))
                }
                "print" => Ok(Value::String(args.iter().map(|a| eval(a, vars).map(|v| show(&v))).collect::<Result<Vec<_>, _>>()?.join(""))),
                cmp => {
                    need(2)?;
                    let (a, b) = (eval(&args[0], vars)?, eval(&args[1], vars)?);
                    let order = match (&a, &b) {
                        (Value::Number(x), Value::Number(y)) => x.as_f64().partial_cmp(&y.as_f64()),
                        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
                        (Value::Bool(x), Value::Bool(y)) if matches!(cmp, "eq" | "ne") => Some(x.cmp(y)),
                        _ => None,
                    }
                    .ok_or_else(|| format!("template function {cmp} cannot compare {a} and {b}"))?;
                    use std::cmp::Ordering::*;
                    Ok(Value::Bool(match cmp {
                        "eq" => order == Equal,
                        "ne" => order != Equal,
                        "lt" => order == Less,
                        "le" => order != Greater,
                        "gt" => order == Greater,
                        _ => order != Less,
                    }))
                }
            }
        }
    }
}

/// Go's truth: false, 0, nil and empty values are false.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// A value as Go's template prints it.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<no value>".into(),
        other => other.to_string(),
    }
}

fn unsupported(action: &str) -> String {
    format!(
        "template action \"{{{{{}}}}}\" is not supported: corral renders {{{{.NAME}}}}, \"literals\", if/else/end and the functions {} (set is_template_disabled: true to pass the command unchanged)",
        clip(action),
        FUNCTIONS.join(", ")
    )
}

fn clip(s: &str) -> String {
    s.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn renders_names_and_rejects_the_rest() {
        let vars = json!({"PORT": 8080, "HOST": "db", "PC_REPLICA_NUM": 2}).as_object().unwrap().clone();
        assert_eq!(super::render("serve {{.HOST}}:{{ .PORT }} #{{- .PC_REPLICA_NUM -}}", &vars).unwrap(), "serve db:8080 #2");
        assert!(super::render("{{.NOPE}}", &vars).unwrap_err().contains("{{.NOPE}}, which is not in vars (defined: HOST, PC_REPLICA_NUM, PORT)"));
        assert!(super::render("{{ range .X }}", &vars).unwrap_err().contains("not supported"));
        assert!(super::render("{{ .HOST | printf }}", &vars).unwrap_err().contains("not supported"));
        assert!(super::render("{{.HOST", &vars).is_err());
        assert_eq!(super::render("no templates", &vars).unwrap(), "no templates");
    }

    #[test]
    fn the_forms_process_compose_documents() {
        let vars = json!({"VERSION": "v1.2.3", "A": true, "B": true, "OFF": false, "N": 3}).as_object().unwrap().clone();
        let r = |t: &str| super::render(t, &vars).unwrap();
        assert_eq!(r(r#"echo 'version {{or "" .VERSION}}'"#), "echo 'version v1.2.3'");
        assert_eq!(r(r#"echo 'version {{or "v9" .VERSION}}'"#), "echo 'version v9'");
        assert_eq!(r("{{if .A}}Feature A Enabled{{else}}Disabled{{end}}"), "Feature A Enabled");
        assert_eq!(r("{{if .OFF}}on{{else if .B}}b{{else}}none{{end}}"), "b");
        assert_eq!(r("Hi {{if and .A .B}}Not Supported{{end}}"), "Hi Not Supported");
        assert_eq!(r(r#"{{if not .OFF}}x{{end}} {{if gt .N 2}}big{{end}} {{if eq .VERSION "v1.2.3"}}same{{end}}"#), "x big same");
        assert_eq!(r(r#"docker inspect -f {{ "{{.State.Running}}" }} nginx"#), "docker inspect -f {{.State.Running}} nginx");
        assert_eq!(r("a  {{- .N -}}  b"), "a3b");
        assert!(super::render("{{if .A}}x", &vars).unwrap_err().contains("no {{end}}"));
        assert!(super::render("x{{end}}", &vars).unwrap_err().contains("without a matching"));
    }
}
