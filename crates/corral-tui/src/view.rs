//! Drawing: the process table, the log pane, the status line and the
//! overlays (help, dependency graph, confirmation). A function of the
//! [`App`] state; called only when something changed.

use std::time::{Instant, SystemTime};

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Row, Table};
use ratatui::Frame;

use crate::app::{App, Confirm, Focus, InputKind, Overlay, Proc};
use crate::keys::KEYS;
use crate::logs::{find_all, LogLine};
use crate::theme::{symbol, Theme};

pub fn draw(f: &mut Frame, app: &mut App, theme: &Theme, title: &str) {
    let area = f.area();
    let [main, status] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(area);
    if app.zoom {
        draw_log(f, app, theme, main);
    } else {
        let rows = app.visible().len() as u16 + 3;
        let table_h = rows.min(main.height / 2).max(main.height.min(4));
        let [top, bottom] = Layout::vertical([Constraint::Length(table_h), Constraint::Min(0)]).areas(main);
        draw_table(f, app, theme, top, title);
        draw_log(f, app, theme, bottom);
    }
    draw_status(f, app, theme, status);
    match &app.overlay {
        Overlay::None => {}
        Overlay::Help => draw_help(f, theme, area),
        Overlay::Graph => draw_graph(f, app, theme, area),
        Overlay::Confirm(c) => draw_confirm(f, *c, area),
    }
}

fn draw_table(f: &mut Frame, app: &App, theme: &Theme, area: Rect, title: &str) {
    let now = Instant::now();
    let visible = app.visible();
    let headers = ["NAME", "STATE", "READY", "RESTARTS", "PID", "PORTS", "UPTIME", "EXIT", "CPU", "MEM", "STATUS"];
    let all_cells: Vec<Vec<Span<'static>>> = visible.iter().map(|p| cells(app, theme, p, now)).collect();
    // Each column as wide as its widest cell; STATUS takes what is left.
    let widths: Vec<u16> = (0..headers.len())
        .map(|c| all_cells.iter().map(|r| r[c].width()).chain([headers[c].len()]).max().unwrap_or(0) as u16)
        .collect();
    // Which to drop first when the terminal is narrow.
    const DROP_ORDER: [usize; 9] = [5, 10, 8, 9, 7, 6, 3, 4, 2];
    const STATUS: usize = 10;
    let mut keep = [true; 11];
    let room = area.width.saturating_sub(2);
    let need = |keep: &[bool; 11]| (0..11).filter(|&c| keep[c]).map(|c| if c == STATUS { 11 } else { widths[c] + 1 }).sum::<u16>();
    for i in DROP_ORDER {
        if need(&keep) <= room {
            break;
        }
        keep[i] = false;
    }
    let pick = |cells: Vec<Span<'static>>| -> Vec<Span<'static>> { cells.into_iter().zip(keep).filter(|(_, k)| *k).map(|(c, _)| c).collect() };
    let header = Row::new(pick(headers.iter().map(|h| Span::raw(*h)).collect())).style(theme.header());
    // Keep the selected row on screen.
    let body = area.height.saturating_sub(3) as usize;
    let sel = visible.iter().position(|p| Some(&p.info.name) == app.selected.as_ref()).unwrap_or(0);
    let skip = (sel + 1).saturating_sub(body.max(1));
    let rows: Vec<Row> = all_cells
        .into_iter()
        .enumerate()
        .skip(skip)
        .map(|(i, cells)| {
            let row = Row::new(pick(cells));
            if i == sel && app.focus == Focus::Table {
                row.style(theme.selected())
            } else if i == sel {
                row.style(Style::new().add_modifier(Modifier::BOLD))
            } else {
                row
            }
        })
        .collect();
    let widths: Vec<Constraint> =
        (0..11).filter(|&c| keep[c]).map(|c| if c == STATUS { Constraint::Fill(1) } else { Constraint::Length(widths[c]) }).collect();
    let sort = format!(" sort: {}{} ", app.sort.label(), if app.reverse { " ↑" } else { "" });
    let filter = if app.filter.is_empty() { String::new() } else { format!(" filter: {} ", app.filter) };
    let block = Block::new().borders(Borders::ALL).title(format!(" {title} ")).title(Line::from(format!("{sort}{filter}")).right_aligned());
    f.render_widget(Table::new(rows, widths).header(header).block(block).column_spacing(1), area);
}

fn cells(app: &App, theme: &Theme, p: &Proc, now: Instant) -> Vec<Span<'static>> {
    let i = &p.info;
    let dash = || "-".to_string();
    let state = match p.backoff_left_ms(now) {
        Some(ms) if i.state == corral_protocol::ProcessState::Restarting => format!("{} {} {:.1}s", symbol(i.state), i.state, ms as f64 / 1000.0),
        _ => format!("{} {}", symbol(i.state), i.state),
    };
    let ready = match (i.ready, i.readiness_check) {
        (true, _) => "yes",
        (false, Some(false)) => "no check",
        (false, _) => "no",
    };
    let ports = i.ports.values().map(|p| p.to_string()).collect::<Vec<_>>().join(",");
    // The server's figures when it sends them, else the dashboard's own sample.
    let res = i.resources.as_ref().or_else(|| i.pid.and_then(|pid| app.resources.get(&pid)));
    vec![
        Span::raw(shown_name(p)),
        Span::styled(state, theme.state(i.state)),
        Span::raw(ready),
        Span::raw(i.restarts.to_string()),
        Span::raw(i.pid.map_or_else(dash, |x| x.to_string())),
        Span::raw(if ports.is_empty() { dash() } else { ports }),
        Span::raw(p.uptime(now).map_or_else(dash, uptime)),
        Span::raw(i.exit.map_or_else(dash, |e| e.to_string())),
        Span::raw(res.map_or_else(dash, |r| format!("{:.1}%", r.cpu_percent))),
        Span::raw(res.map_or_else(dash, |r| bytes(r.memory_bytes))),
        Span::raw(i.status.clone().or_else(|| i.reason.clone()).unwrap_or_default()),
    ]
}

/// The name, with its namespaces unless it is only in `default`.
fn shown_name(p: &Proc) -> String {
    match p.info.namespaces.as_slice() {
        [] => p.info.name.clone(),
        [only] if only == "default" => p.info.name.clone(),
        ns => format!("{} [{}]", p.info.name, ns.join(",")),
    }
}

pub fn uptime(s: u64) -> String {
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{}s", s / 60, s % 60),
        _ => format!("{}h{}m", s / 3600, s % 3600 / 60),
    }
}

fn bytes(b: u64) -> String {
    match b {
        0..=1023 => format!("{b}B"),
        1024..=1048575 => format!("{}K", b / 1024),
        1048576..=1073741823 => format!("{:.1}M", b as f64 / 1048576.0),
        _ => format!("{:.1}G", b as f64 / 1073741824.0),
    }
}

/// Wall-clock time of a line (UTC), or blanks for lines from before the dashboard.
pub fn clock(at: Option<SystemTime>) -> String {
    match at.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok()) {
        Some(d) => {
            let s = d.as_secs() % 86_400;
            format!("{:02}:{:02}:{:02}.{:03}", s / 3600, s / 60 % 60, s % 60, d.subsec_millis())
        }
        None => " ".repeat(12),
    }
}

fn draw_log(f: &mut Frame, app: &mut App, theme: &Theme, area: Rect) {
    let mut flags = Vec::new();
    flags.push(if app.follow { "follow" } else { "paused" });
    if app.wrap {
        flags.push("wrap");
    }
    if app.timestamps {
        flags.push("time");
    }
    if app.select_mode {
        flags.push("SELECT: mouse released, v to end");
    }
    let which = app.log_of.clone().map_or_else(|| "all processes".to_string(), |p| format!("log of {p}"));
    let search = if app.search.is_empty() { String::new() } else { format!(" search: {} ", app.search) };
    let block = Block::new()
        // The same borders either way (the pane's height must not change with focus): the focus shows in bold.
        .borders(Borders::ALL)
        .border_style(if app.focus == Focus::Log { theme.header() } else { theme.dim() })
        .title(format!(" {which} "))
        .title(Line::from(format!("{search} {} ", flags.join(" "))).right_aligned());
    let inner = block.inner(area);
    f.render_widget(block, area);
    let rows = inner.height as usize;
    let width = inner.width as usize;
    app.log_rows = rows.max(1);
    if rows == 0 || width == 0 {
        return;
    }
    let len = app.view().len();
    // Scrolled to the top: the oldest lines fill the pane (not one line at its bottom).
    app.scroll = app.scroll.min(len.saturating_sub(rows));
    let bottom = len - app.scroll;
    let label_w = if app.log_of.is_none() { app.procs.iter().map(|p| p.info.name.chars().count()).max().unwrap_or(0) } else { 0 };
    let app: &App = app;
    let view = app.view();
    let mut out: Vec<Line> = Vec::new();
    let mut i = bottom;
    while i > 0 && out.len() < rows {
        i -= 1;
        let Some(l) = view.get(i) else { break };
        let mut lines = render_line(app, theme, l, label_w, app.matched == Some(i));
        if app.wrap {
            lines = wrap(lines, width);
        } else {
            lines.truncate(1);
        }
        for l in lines.into_iter().rev() {
            out.push(l);
        }
    }
    out.truncate(rows);
    out.reverse();
    f.render_widget(Paragraph::new(out), inner);
}

/// Spans of one log line: time, label, text with search matches highlighted.
fn render_line(app: &App, theme: &Theme, l: &LogLine, label_w: usize, current: bool) -> Vec<Line<'static>> {
    let mut spans = Vec::new();
    if app.timestamps {
        spans.push(Span::styled(format!("{} ", clock(l.at)), theme.dim()));
    }
    if app.log_of.is_none() {
        let index = app.procs.iter().position(|p| *p.info.name == *l.process).unwrap_or_else(|| app.procs.len() + usize::from(&*l.process == "post_hook"));
        spans.push(Span::styled(format!("{:<label_w$} | ", l.process), theme.label(index)));
    }
    let mut last = 0;
    let hl = if current { theme.highlight().add_modifier(Modifier::BOLD) } else { theme.highlight() };
    for (a, b) in find_all(&l.text, &app.search) {
        spans.push(Span::raw(l.text[last..a].to_string()));
        spans.push(Span::styled(l.text[a..b].to_string(), hl));
        last = b;
    }
    spans.push(Span::raw(l.text[last..].to_string()));
    vec![Line::from(spans)]
}

/// Hard-wraps one line's spans at `width` characters.
fn wrap(lines: Vec<Line<'static>>, width: usize) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for line in lines {
        let mut cur: Vec<Span> = Vec::new();
        let mut n = 0;
        for span in line.spans {
            let mut text: &str = &span.content;
            while !text.is_empty() {
                let room = width - n;
                let cut = text.char_indices().nth(room).map_or(text.len(), |(i, _)| i);
                cur.push(Span::styled(text[..cut].to_string(), span.style));
                n += text[..cut].chars().count();
                text = &text[cut..];
                if n == width {
                    out.push(Line::from(std::mem::take(&mut cur)));
                    n = 0;
                }
            }
        }
        if !cur.is_empty() || out.is_empty() {
            out.push(Line::from(cur));
        }
    }
    out
}

fn draw_status(f: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let text = match (&app.input, &app.message) {
        (Some((InputKind::Search, t)), _) => Line::from(vec![Span::styled("search: ", theme.header()), Span::raw(t.clone()), Span::raw("▏")]),
        (Some((InputKind::Filter, t)), _) => Line::from(vec![Span::styled("filter: ", theme.header()), Span::raw(t.clone()), Span::raw("▏")]),
        (Some((InputKind::Scale, t)), _) => {
            let name = app.scale_target().unwrap_or_default();
            Line::from(vec![Span::styled(format!("scale {name} to (replicas): "), theme.header()), Span::raw(t.clone()), Span::raw("▏")])
        }
        (None, Some(m)) => Line::from(m.clone()),
        (None, None) if app.ended => Line::from("the run has ended; q quits"),
        (None, None) => Line::from(Span::styled("? help  Enter log  a all  s start  x stop  r restart  / search  d deps  v select  p pager  q quit", theme.dim())),
    };
    f.render_widget(Paragraph::new(text), area);
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h }
}

/// Every key, in as many columns as the height needs.
fn draw_help(f: &mut Frame, theme: &Theme, area: Rect) {
    let max_rows = (area.height.saturating_sub(2) as usize).max(1);
    let cols = KEYS.len().div_ceil(max_rows);
    let per_col = KEYS.len().div_ceil(cols);
    let col_w = 72.min(area.width.saturating_sub(2) / cols as u16).max(1);
    let r = centered(area, col_w * cols as u16 + 2, per_col as u16 + 2);
    f.render_widget(Clear, r);
    let block = Block::bordered().title(" keys (any key closes) ");
    let inner = block.inner(r);
    f.render_widget(block, r);
    for (c, chunk) in KEYS.chunks(per_col).enumerate() {
        let lines: Vec<Line> = chunk.iter().map(|(k, what, _)| Line::from(vec![Span::styled(format!("{k:>13}  "), theme.header()), Span::raw(*what)])).collect();
        let x = inner.x + col_w * c as u16;
        if x >= inner.right() {
            break;
        }
        let col = Rect { x, y: inner.y, width: col_w.min(inner.right() - x), height: inner.height };
        f.render_widget(Paragraph::new(lines), col);
    }
}

fn draw_graph(f: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let mut lines = Vec::new();
    let roots: Vec<&Proc> = app.procs.iter().filter(|p| p.info.depends_on.is_empty()).collect();
    for (i, r) in roots.iter().enumerate() {
        graph_node(app, theme, r, "", i + 1 == roots.len(), true, &mut lines, 0);
    }
    let r = centered(area, area.width.saturating_sub(4).max(20), lines.len() as u16 + 2);
    f.render_widget(Clear, r);
    f.render_widget(Paragraph::new(lines).block(Block::bordered().title(" dependencies: each process above what needs it (any key closes) ")), r);
}

#[allow(clippy::too_many_arguments)]
fn graph_node(app: &App, theme: &Theme, p: &Proc, prefix: &str, last: bool, root: bool, out: &mut Vec<Line<'static>>, depth: usize) {
    let branch = if root { "" } else if last { "└─ " } else { "├─ " };
    out.push(Line::from(vec![
        Span::raw(format!("{prefix}{branch}")),
        Span::styled(format!("{} {}", symbol(p.info.state), p.info.name), theme.state(p.info.state)),
    ]));
    if depth > 64 {
        return;
    }
    let children: Vec<&Proc> = app.procs.iter().filter(|c| c.info.depends_on.contains(&p.info.name)).collect();
    let next = if root { String::new() } else { format!("{prefix}{}", if last { "   " } else { "│  " }) };
    for (i, c) in children.iter().enumerate() {
        graph_node(app, theme, c, &next, i + 1 == children.len(), false, out, depth + 1);
    }
}

fn draw_confirm(f: &mut Frame, c: Confirm, area: Rect) {
    let q = match c {
        Confirm::StopAll => "Stop every process? The run ends.",
        Confirm::QuitRun => "Quit? This stops every process of the run.",
    };
    let r = centered(area, q.len() as u16 + 4, 4);
    f.render_widget(Clear, r);
    f.render_widget(Paragraph::new(vec![Line::from(q), Line::from("Enter: yes   any other key: no")]).block(Block::bordered()), r);
}
