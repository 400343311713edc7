//! The dashboard's state and what each key and event does to it. Pure: no
//! terminal, no socket; what must happen outside comes back as [`Effect`]s
//! (unit-tested below, driven for real by the tmux tests).

use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Instant, SystemTime};

use corral_protocol::{Event, ProcessInfo, ProcessState, RequestCommand, ResourceUsage};

use crate::keys::Key;
use crate::logs::{find_all, sanitize, LogBuffer, LogLine, MAX_LINES};

/// Lines kept per process (besides the merged view's [`MAX_LINES`]).
pub const PER_PROCESS_LINES: usize = 2_000;
/// Lines read back from a process's log file when scrolling past memory.
pub const HISTORY_LINES: usize = 20_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send a request on a connection of its own; `what` describes it for the status line.
    Request { command: RequestCommand, what: String },
    /// Read a process's older lines (its log file) into its view.
    LoadHistory(String),
    /// Show these lines in $PAGER.
    Pager(Vec<String>),
    /// Capture the mouse (scrolling) or release it (selecting text).
    Mouse(bool),
    Quit,
    /// Quit after the run has stopped (`up --tui`).
    StopAndQuit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Table,
    Log,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help,
    Graph,
    Confirm(Confirm),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    StopAll,
    QuitRun,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Search,
    Filter,
    /// How many replicas of the process (named as written, e.g. `api` for `api-0`).
    Scale,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Config,
    Name,
    State,
    Restarts,
    Cpu,
    Memory,
    Uptime,
}

impl SortKey {
    fn next(self) -> SortKey {
        use SortKey::*;
        match self {
            Config => Name,
            Name => State,
            State => Restarts,
            Restarts => Cpu,
            Cpu => Memory,
            Memory => Uptime,
            Uptime => Config,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SortKey::Config => "config order",
            SortKey::Name => "name",
            SortKey::State => "state",
            SortKey::Restarts => "restarts",
            SortKey::Cpu => "cpu",
            SortKey::Memory => "memory",
            SortKey::Uptime => "uptime",
        }
    }
}

/// One process as last heard of, and when.
#[derive(Debug, Clone)]
pub struct Proc {
    pub info: ProcessInfo,
    pub heard: Instant,
}

impl Proc {
    pub fn uptime(&self, now: Instant) -> Option<u64> {
        self.info.uptime_seconds.map(|s| s + now.saturating_duration_since(self.heard).as_secs())
    }

    pub fn backoff_left_ms(&self, now: Instant) -> Option<u64> {
        let elapsed = now.saturating_duration_since(self.heard).as_millis() as u64;
        self.info.restart_in_ms.map(|ms| ms.saturating_sub(elapsed))
    }

    pub fn is_live(&self) -> bool {
        self.info.pid.is_some()
    }
}

pub struct App {
    pub procs: Vec<Proc>,
    pub resources: HashMap<i32, ResourceUsage>,
    pub selected: Option<String>,
    pub sort: SortKey,
    pub reverse: bool,
    pub filter: String,
    all: LogBuffer,
    per: HashMap<Rc<str>, LogBuffer>,
    /// None: every process merged; Some: one process.
    pub log_of: Option<String>,
    /// Lines between the bottom of the view and the newest line.
    pub scroll: usize,
    pub follow: bool,
    pub wrap: bool,
    pub timestamps: bool,
    pub zoom: bool,
    pub select_mode: bool,
    pub focus: Focus,
    pub overlay: Overlay,
    pub input: Option<(InputKind, String)>,
    pub search: String,
    /// The matched line (index into the current view) the search moved to.
    pub matched: Option<usize>,
    pub message: Option<String>,
    /// `up --tui`: quitting stops the run.
    pub owns_run: bool,
    pub ended: bool,
    /// Rows the log pane shows (set when drawn; for paging).
    pub log_rows: usize,
    history_asked: Vec<String>,
    /// The view of a process that has printed nothing yet.
    empty: LogBuffer,
}

impl App {
    pub fn new(owns_run: bool) -> App {
        App {
            procs: Vec::new(),
            resources: HashMap::new(),
            selected: None,
            sort: SortKey::Config,
            reverse: false,
            filter: String::new(),
            all: LogBuffer::new(MAX_LINES),
            per: HashMap::new(),
            log_of: None,
            scroll: 0,
            follow: true,
            wrap: false,
            timestamps: false,
            zoom: false,
            select_mode: false,
            focus: Focus::Table,
            overlay: Overlay::None,
            input: None,
            search: String::new(),
            matched: None,
            message: None,
            owns_run,
            ended: false,
            log_rows: 10,
            history_asked: Vec::new(),
            empty: LogBuffer::new(1),
        }
    }

    // ---- events from the server ----

    pub fn on_event(&mut self, ev: Event) {
        let now = Instant::now();
        match ev {
            Event::Log { process, line } => self.push_line(&process, &line, Some(SystemTime::now())),
            Event::Skipped { lines } => self.message = Some(format!("{lines} lines skipped (the dashboard read too slowly)")),
            Event::State { process } => self.update(process, now),
            Event::Snapshot { processes } => {
                self.procs.clear();
                for p in processes {
                    self.update(p, now);
                }
            }
            // A tty process's raw bytes, sent only to `attach NAME`; its lines reach the dashboard as `Log`.
            Event::Terminal { .. } => {}
        }
    }

    fn update(&mut self, info: ProcessInfo, now: Instant) {
        match self.procs.iter_mut().find(|p| p.info.name == info.name) {
            Some(p) => *p = Proc { info, heard: now },
            None => self.procs.push(Proc { info, heard: now }),
        }
        if self.selected.is_none() {
            self.selected = self.visible().first().map(|p| p.info.name.clone());
        }
    }

    pub fn push_line(&mut self, process: &str, raw: &str, at: Option<SystemTime>) {
        let name: Rc<str> = match self.per.get_key_value(process) {
            Some((k, _)) => k.clone(),
            None => Rc::from(process),
        };
        let line = Rc::new(LogLine { process: name.clone(), text: sanitize(raw), at });
        let in_view = self.log_of.as_deref().is_none_or(|p| p == process);
        self.all.push(line.clone());
        self.per.entry(name).or_insert_with(|| LogBuffer::new(PER_PROCESS_LINES)).push(line);
        if in_view && !self.follow {
            // Keep what the reader looks at in place.
            self.scroll = (self.scroll + 1).min(self.view().len().saturating_sub(self.log_rows.max(1)));
            self.matched = self.matched.and_then(|m| m.checked_sub(usize::from(self.view().len() == self.view_cap())));
        }
    }

    /// A process's older lines, read from its log file: they replace its view.
    pub fn on_history(&mut self, process: &str, lines: Vec<String>) {
        let name: Rc<str> = Rc::from(process);
        let before = self.per.get(process).map_or(0, LogBuffer::len);
        let mut b = LogBuffer::new(lines.len().clamp(PER_PROCESS_LINES, HISTORY_LINES));
        for l in &lines {
            b.push(Rc::new(LogLine { process: name.clone(), text: sanitize(l), at: None }));
        }
        let added = b.len().saturating_sub(before);
        self.per.insert(name, b);
        if self.log_of.as_deref() == Some(process) {
            self.scroll += added;
            self.message = Some(format!("{added} older lines read from {process}'s log file"));
        }
    }

    fn view_cap(&self) -> usize {
        if self.log_of.is_some() {
            PER_PROCESS_LINES
        } else {
            MAX_LINES
        }
    }

    /// The lines of the current log view, oldest first.
    pub fn view(&self) -> &LogBuffer {
        match &self.log_of {
            None => &self.all,
            Some(p) => self.per.get(p.as_str()).unwrap_or(&self.empty),
        }
    }

    /// The table's rows: filtered, then sorted.
    pub fn visible(&self) -> Vec<&Proc> {
        let f = self.filter.to_ascii_lowercase();
        let matches = |p: &Proc| p.info.name.to_ascii_lowercase().contains(&f) || p.info.namespaces.iter().any(|n| n.to_ascii_lowercase().contains(&f));
        let mut v: Vec<&Proc> = self.procs.iter().filter(|p| f.is_empty() || matches(p)).collect();
        let now = Instant::now();
        let res = |p: &Proc| p.info.pid.and_then(|pid| self.resources.get(&pid)).copied();
        match self.sort {
            SortKey::Config => {}
            SortKey::Name => v.sort_by(|a, b| a.info.name.cmp(&b.info.name)),
            SortKey::State => v.sort_by_key(|p| state_rank(p.info.state)),
            SortKey::Restarts => v.sort_by_key(|p| std::cmp::Reverse(p.info.restarts)),
            SortKey::Cpu => v.sort_by(|a, b| res(b).map_or(-1.0, |r| r.cpu_percent).total_cmp(&res(a).map_or(-1.0, |r| r.cpu_percent))),
            SortKey::Memory => v.sort_by_key(|p| std::cmp::Reverse(res(p).map_or(0, |r| r.memory_bytes))),
            SortKey::Uptime => v.sort_by_key(|p| std::cmp::Reverse(p.uptime(now))),
        }
        if self.reverse {
            v.reverse();
        }
        v
    }

    /// The pids whose figures the table shows (sampled only while it is visible).
    pub fn wants_samples(&self) -> bool {
        !self.zoom && self.overlay == Overlay::None && self.procs.iter().any(Proc::is_live)
    }

    /// Something on screen changes with time alone (uptime, backoff).
    pub fn ticking(&self) -> bool {
        !self.zoom && self.procs.iter().any(|p| p.is_live() || p.info.restart_in_ms.is_some())
    }

    // ---- keys ----

    /// Text typed into the search or filter prompt.
    pub fn on_input_char(&mut self, c: Option<char>, enter: bool, escape: bool) -> Vec<Effect> {
        let Some((kind, text)) = self.input.as_mut() else { return vec![] };
        let kind = *kind;
        if escape {
            self.input = None;
            if kind == InputKind::Filter {
                self.filter.clear();
            }
            return vec![];
        }
        match c {
            Some('\u{8}') => {
                text.pop();
            }
            Some(c) => text.push(c),
            None => {}
        }
        let text = text.clone();
        if kind == InputKind::Filter {
            self.filter = text.clone();
            self.keep_selection_visible();
        }
        if enter {
            self.input = None;
            if kind == InputKind::Search {
                self.search = text.clone();
                self.matched = None;
                self.find(false);
            }
            if kind == InputKind::Scale {
                let Some(name) = self.scale_target() else { return vec![] };
                return match text.trim().parse::<u32>() {
                    Ok(replicas) => vec![Effect::Request { command: RequestCommand::Scale { name: name.clone(), replicas }, what: format!("scale {name} to {replicas}") }],
                    Err(_) => {
                        self.message = Some(format!("scale: {text:?} is not a number of replicas"));
                        vec![]
                    }
                };
            }
        }
        vec![]
    }

    /// The process `scale` acts on for the selection: a replica's process as
    /// written (`api` for `api-0`), else the selected process itself.
    pub fn scale_target(&self) -> Option<String> {
        let name = self.selected.as_ref()?;
        let p = self.procs.iter().find(|p| &p.info.name == name)?;
        Some(match p.info.replica {
            Some(_) => name.rsplit_once('-').map_or(name.as_str(), |(base, _)| base).to_string(),
            None => name.clone(),
        })
    }

    pub fn on_key(&mut self, key: Key) -> Vec<Effect> {
        self.message = None;
        if let Overlay::Confirm(what) = self.overlay.clone() {
            self.overlay = Overlay::None;
            if key != Key::ShowOne {
                self.message = Some("cancelled".into());
                return vec![];
            }
            return match what {
                Confirm::StopAll => vec![Effect::Request { command: RequestCommand::Down, what: "stop every process".into() }],
                Confirm::QuitRun => vec![Effect::StopAndQuit],
            };
        }
        if self.overlay != Overlay::None && !matches!(key, Key::Quit | Key::Help | Key::Graph) {
            self.overlay = Overlay::None;
            return vec![];
        }
        let sel = self.selected.clone();
        let act = |command: fn(Vec<String>) -> RequestCommand, verb: &str| match &sel {
            Some(n) => vec![Effect::Request { command: command(vec![n.clone()]), what: format!("{verb} {n}") }],
            None => vec![],
        };
        match key {
            Key::Up | Key::Down if self.focus == Focus::Table && !self.zoom => self.move_selection(if key == Key::Up { -1 } else { 1 }),
            Key::Up => return self.scroll_by(1),
            Key::Down => {
                self.scroll_by(-1);
            }
            Key::Top if self.focus == Focus::Table && !self.zoom => self.move_selection(isize::MIN / 2),
            Key::Bottom if self.focus == Focus::Table && !self.zoom => self.move_selection(isize::MAX / 2),
            Key::Top => return self.scroll_by(isize::MAX / 2),
            Key::Bottom => {
                self.scroll = 0;
                self.follow = true;
            }
            Key::PageUp => return self.scroll_by(self.log_rows.max(2) as isize - 1),
            Key::PageDown => {
                self.scroll_by(-(self.log_rows.max(2) as isize - 1));
            }
            Key::SwitchFocus => self.focus = if self.focus == Focus::Table { Focus::Log } else { Focus::Table },
            Key::ShowOne => {
                self.log_of = self.selected.clone();
                self.reset_view();
            }
            Key::ShowAll => {
                self.log_of = None;
                self.reset_view();
            }
            Key::Start => return act(|names| RequestCommand::Start { names }, "start"),
            Key::Stop => return act(|names| RequestCommand::Stop { names }, "stop"),
            Key::Restart => return act(|names| RequestCommand::Restart { names }, "restart"),
            Key::StopAll => self.overlay = Overlay::Confirm(Confirm::StopAll),
            Key::Scale if sel.is_some() => self.input = Some((InputKind::Scale, String::new())),
            Key::Scale => {}
            Key::Search => self.input = Some((InputKind::Search, String::new())),
            Key::Filter => self.input = Some((InputKind::Filter, self.filter.clone())),
            Key::NextMatch => self.find(true),
            Key::PrevMatch => self.find(false),
            Key::Sort => self.sort = self.sort.next(),
            Key::ReverseSort => self.reverse = !self.reverse,
            Key::Follow => {
                self.follow = !self.follow;
                if self.follow {
                    self.scroll = 0;
                }
            }
            Key::Wrap => self.wrap = !self.wrap,
            Key::Timestamps => self.timestamps = !self.timestamps,
            Key::Zoom => self.zoom = !self.zoom,
            Key::Select => {
                self.select_mode = !self.select_mode;
                return vec![Effect::Mouse(!self.select_mode)];
            }
            Key::Pager => {
                let lines = self.view().iter().map(|l| self.render_plain(l)).collect();
                return vec![Effect::Pager(lines)];
            }
            Key::Graph => self.overlay = if self.overlay == Overlay::Graph { Overlay::None } else { Overlay::Graph },
            Key::Help => self.overlay = if self.overlay == Overlay::Help { Overlay::None } else { Overlay::Help },
            Key::Quit if self.owns_run && !self.ended => self.overlay = Overlay::Confirm(Confirm::QuitRun),
            Key::Quit => return vec![Effect::Quit],
            Key::Escape => {
                self.search.clear();
                self.matched = None;
                self.filter.clear();
                self.select_mode = false;
            }
        }
        vec![]
    }

    /// A line as `$PAGER` and the merged view show it.
    pub fn render_plain(&self, l: &LogLine) -> String {
        let mut s = String::new();
        if self.timestamps {
            s.push_str(&crate::view::clock(l.at));
            s.push(' ');
        }
        if self.log_of.is_none() {
            s.push_str(&l.process);
            s.push_str(" | ");
        }
        s.push_str(&l.text);
        s
    }

    fn reset_view(&mut self) {
        self.scroll = 0;
        self.follow = true;
        self.matched = None;
    }

    fn move_selection(&mut self, by: isize) {
        let names: Vec<String> = self.visible().iter().map(|p| p.info.name.clone()).collect();
        if names.is_empty() {
            return;
        }
        let at = self.selected.as_ref().and_then(|s| names.iter().position(|n| n == s)).unwrap_or(0) as isize;
        let to = (at.saturating_add(by)).clamp(0, names.len() as isize - 1) as usize;
        self.selected = Some(names[to].clone());
    }

    fn keep_selection_visible(&mut self) {
        let names: Vec<String> = self.visible().iter().map(|p| p.info.name.clone()).collect();
        if !self.selected.as_ref().is_some_and(|s| names.contains(s)) {
            self.selected = names.first().cloned();
        }
    }

    /// Scrolls towards older lines (`by` > 0) or newer; at the top of one
    /// process's view, asks for its log file.
    fn scroll_by(&mut self, by: isize) -> Vec<Effect> {
        let len = self.view().len();
        // At most: the oldest line at the top of the pane.
        let max = len.saturating_sub(self.log_rows.max(1));
        let want = (self.scroll as isize).saturating_add(by);
        self.scroll = want.clamp(0, max as isize) as usize;
        self.follow = self.scroll == 0;
        if by > 0 && want > max as isize {
            if let Some(p) = self.log_of.clone() {
                if !self.history_asked.contains(&p) {
                    self.history_asked.push(p.clone());
                    return vec![Effect::LoadHistory(p)];
                }
            }
        }
        vec![]
    }

    /// Moves to the next match older (`newer` false) or newer than the current one.
    fn find(&mut self, newer: bool) {
        if self.search.is_empty() {
            return;
        }
        let view = self.view();
        let len = view.len();
        let start = self.matched.unwrap_or(len.saturating_sub(1 + self.scroll).min(len));
        let hit = |i: &usize| !find_all(&view.get(*i).map_or(String::new(), |l| l.text.clone()), &self.search).is_empty();
        let found = if newer {
            (start + 1..len).find(hit)
        } else if self.matched.is_none() {
            (0..=start.min(len.saturating_sub(1))).rev().find(hit)
        } else {
            (0..start).rev().find(hit)
        };
        match found {
            Some(i) => {
                self.matched = Some(i);
                self.follow = false;
                // Put the match a little above the bottom of the pane.
                self.scroll = (len - 1 - i).saturating_sub(self.log_rows / 2);
                self.message = Some(format!("match at line {} of {len}", i + 1));
            }
            None => self.message = Some(format!("no {} match for {:?}", if newer { "newer" } else { "older" }, self.search)),
        }
    }
}

/// Order of states when sorting: what needs attention first.
fn state_rank(s: ProcessState) -> u8 {
    use ProcessState::*;
    match s {
        Failed => 0,
        Restarting => 1,
        Starting | Waiting | Pending => 2,
        Stopping => 3,
        Running => 4,
        Ready => 5,
        Completed => 6,
        Stopped => 7,
        Skipped => 8,
        Disabled => 9,
    }
}

#[cfg(test)]
mod tests;
