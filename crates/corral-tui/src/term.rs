//! The terminal and the threads around the pure [`App`]: one thread reads
//! the set's event stream, one reads the terminal, each request runs on a
//! connection of its own; the loop waits on one channel and redraws only
//! when something changed.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corral_protocol::{CallError, Client, Event, RequestCommand, Response};
use ratatui::crossterm::event::{
    self as term_event, DisableMouseCapture, EnableMouseCapture, Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEventKind,
};
use ratatui::crossterm::execute;
use ratatui::DefaultTerminal;

use crate::app::{App, Effect, Focus};
use crate::keys::{lookup, Key};
use crate::sample::Sampler;
use crate::theme::Theme;

/// Lines of recent output shown when the dashboard opens.
const BACKLOG: usize = 500;
/// Shortest time between two redraws under a flood of events.
const FRAME: Duration = Duration::from_millis(50);
/// Messages waiting for the loop, at most.
const QUEUE: usize = 4096;
/// How often the input thread looks up from the terminal (to let `$PAGER` have it).
const INPUT_POLL: Duration = Duration::from_millis(250);

pub struct Options {
    /// The control socket of the running set.
    pub socket: PathBuf,
    /// Shown in the table's title (the project).
    pub title: String,
    /// `up --tui`: quitting stops the run (after a confirmation).
    pub owns_run: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The person quit; the set keeps running.
    Quit,
    /// The person asked the set to stop (quit of `up --tui`), and it has.
    Stopped,
    /// The set ended (the person then quit).
    Ended,
}

enum Msg {
    Server(Event),
    Backlog(Vec<(String, String)>),
    History(String, Vec<String>),
    Closed,
    Term(TermEvent),
    Done(String),
}

/// Runs the dashboard until the person quits.
pub fn run(opts: Options) -> io::Result<Outcome> {
    // Fail before touching the terminal when there is nothing to attach to.
    let probe = Client::connect(&opts.socket)?;
    drop(probe);
    // Bounded: a flood of output waits in the socket (and the server then
    // skips lines for this slow reader) instead of growing this process.
    let (tx, rx) = mpsc::sync_channel(QUEUE);
    spawn_feed(&opts.socket, tx.clone());
    let paused = Arc::new(AtomicBool::new(false));
    let (ack_tx, ack_rx) = mpsc::channel();
    spawn_input(tx.clone(), paused.clone(), ack_tx);
    let mut terminal = ratatui::init();
    let _ = execute!(io::stdout(), EnableMouseCapture);
    let mut ctx = Loop { opts, tx, paused, ack: ack_rx, mouse: true };
    let out = ctx.run(&mut terminal, rx);
    let _ = execute!(io::stdout(), DisableMouseCapture);
    ratatui::restore();
    out
}

struct Loop {
    opts: Options,
    tx: SyncSender<Msg>,
    paused: Arc<AtomicBool>,
    ack: Receiver<()>,
    mouse: bool,
}

impl Loop {
    fn run(&mut self, terminal: &mut DefaultTerminal, rx: Receiver<Msg>) -> io::Result<Outcome> {
        let theme = Theme::from_env();
        let mut app = App::new(self.opts.owns_run);
        let mut sampler = Sampler::new();
        let mut stopping = false;
        let mut dirty = true;
        let mut last_draw = Instant::now() - FRAME;
        let mut next_tick = Instant::now() + Duration::from_secs(1);
        loop {
            // Draw when something changed, at most once per FRAME.
            if dirty && last_draw.elapsed() >= FRAME {
                terminal.draw(|f| crate::view::draw(f, &mut app, &theme, &self.opts.title))?;
                last_draw = Instant::now();
                dirty = false;
            }
            let ticking = app.ticking() || app.wants_samples();
            let mut wake = ticking.then_some(next_tick);
            if dirty {
                let frame_at = last_draw + FRAME;
                wake = Some(wake.map_or(frame_at, |w| w.min(frame_at)));
            }
            let msg = match wake {
                Some(at) => match rx.recv_timeout(at.saturating_duration_since(Instant::now())) {
                    Ok(m) => Some(m),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => return Ok(Outcome::Ended),
                },
                None => Some(rx.recv().map_err(|_| io::Error::other("all senders ended"))?),
            };
            if ticking && Instant::now() >= next_tick {
                next_tick = Instant::now() + Duration::from_secs(1);
                if app.wants_samples() {
                    let pids: Vec<i32> = app.visible().iter().filter_map(|p| p.info.pid).collect();
                    app.resources = sampler.sample(&pids);
                }
                dirty = true;
            }
            let mut pending = msg.into_iter().collect::<Vec<_>>();
            // Take everything already queued before drawing again.
            while pending.len() < 10_000 {
                match rx.try_recv() {
                    Ok(m) => pending.push(m),
                    Err(_) => break,
                }
            }
            for m in pending {
                dirty = true;
                let effects = match m {
                    Msg::Server(ev) => {
                        app.on_event(ev);
                        vec![]
                    }
                    Msg::Backlog(lines) => {
                        for (p, l) in lines {
                            app.push_line(&p, &l, None);
                        }
                        vec![]
                    }
                    Msg::History(p, lines) => {
                        app.on_history(&p, lines);
                        vec![]
                    }
                    Msg::Closed => {
                        app.ended = true;
                        if stopping {
                            return Ok(Outcome::Stopped);
                        }
                        app.message = Some("the run has ended; q quits".into());
                        vec![]
                    }
                    Msg::Done(text) => {
                        app.message = Some(text);
                        vec![]
                    }
                    Msg::Term(ev) => on_terminal(&mut app, ev),
                };
                for e in effects {
                    match e {
                        Effect::Quit => return Ok(if app.ended { Outcome::Ended } else { Outcome::Quit }),
                        Effect::StopAndQuit => {
                            stopping = true;
                            app.message = Some("stopping every process…".into());
                            self.request(RequestCommand::Down, "stop the run".into());
                        }
                        Effect::Request { command, what } => self.request(command, what),
                        Effect::LoadHistory(p) => self.history(p),
                        Effect::Mouse(on) => {
                            self.mouse = on;
                            let _ = if on { execute!(io::stdout(), EnableMouseCapture) } else { execute!(io::stdout(), DisableMouseCapture) };
                        }
                        Effect::Pager(lines) => {
                            app.message = Some(self.pager(terminal, &lines));
                        }
                    }
                }
            }
        }
    }

    /// Sends a request on a connection of its own; its outcome comes back as a message.
    fn request(&self, command: RequestCommand, what: String) {
        let tx = self.tx.clone();
        let socket = self.opts.socket.clone();
        std::thread::spawn(move || {
            let text = match Client::connect(&socket).map_err(|e| CallError::Io(e.to_string())).and_then(|mut c| c.call(command, |_| {})) {
                Ok(Response::Stopped { stopped }) if !stopped.is_empty() => format!("{what}: done (stopped {})", stopped.join(", ")),
                Ok(Response::Started { started }) if !started.is_empty() => format!("{what}: done (started {})", started.join(", ")),
                Ok(_) => format!("{what}: done"),
                Err(e) => format!("{what}: {e}"),
            };
            let _ = tx.send(Msg::Done(text));
        });
    }

    fn history(&self, process: String) {
        let tx = self.tx.clone();
        let socket = self.opts.socket.clone();
        std::thread::spawn(move || {
            let mut lines = Vec::new();
            let res = Client::connect(&socket)
                .map_err(|e| CallError::Io(e.to_string()))
                .and_then(|mut c| c.call(RequestCommand::Logs { names: vec![process.clone()], lines: crate::app::HISTORY_LINES, follow: false }, |ev| {
                    if let Event::Log { line, .. } = ev {
                        lines.push(line);
                    }
                }));
            let _ = tx.send(match res {
                Ok(_) => Msg::History(process, lines),
                Err(e) => Msg::Done(format!("cannot read older lines of {process}: {e}")),
            });
        });
    }

    /// Shows `lines` in `$PAGER` (default `less`), then takes the terminal back.
    fn pager(&self, terminal: &mut DefaultTerminal, lines: &[String]) -> String {
        let path = std::env::temp_dir().join(format!("corral-tui-{}.log", std::process::id()));
        let written = std::fs::File::create(&path).and_then(|mut f| {
            for l in lines {
                writeln!(f, "{l}")?;
            }
            Ok(())
        });
        if let Err(e) = written {
            return format!("cannot write {}: {e}", path.display());
        }
        // Stop the input thread from reading what the pager should get.
        self.paused.store(true, Ordering::SeqCst);
        let _ = self.ack.recv_timeout(INPUT_POLL * 4);
        let _ = execute!(io::stdout(), DisableMouseCapture);
        ratatui::restore();
        let pager = std::env::var("PAGER").ok().filter(|p| !p.trim().is_empty()).unwrap_or_else(|| "less".into());
        let status = std::process::Command::new("sh").arg("-c").arg(format!("{pager} \"$1\"")).arg("sh").arg(&path).status();
        let _ = std::fs::remove_file(&path);
        *terminal = ratatui::init();
        if self.mouse {
            let _ = execute!(io::stdout(), EnableMouseCapture);
        }
        let _ = terminal.clear();
        self.paused.store(false, Ordering::SeqCst);
        match status {
            Ok(s) if s.success() => String::new(),
            Ok(s) => format!("{pager}: {s}"),
            Err(e) => format!("cannot run {pager}: {e}"),
        }
    }
}

fn on_terminal(app: &mut App, ev: TermEvent) -> Vec<Effect> {
    match ev {
        // Esc and a key read together arrive as Alt+key: they are Esc, then the key.
        TermEvent::Key(mut k) if k.modifiers.contains(KeyModifiers::ALT) && matches!(k.code, KeyCode::Char(_)) => {
            let mut out = on_terminal(app, TermEvent::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)));
            k.modifiers.remove(KeyModifiers::ALT);
            out.extend(on_terminal(app, TermEvent::Key(k)));
            out
        }
        TermEvent::Key(k) if k.kind != KeyEventKind::Release => {
            if app.input.is_some() {
                let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
                let (c, enter, esc) = match k.code {
                    KeyCode::Char('c') if ctrl => (None, false, true),
                    _ if ctrl => (None, false, false),
                    KeyCode::Char(c) => (Some(c), false, false),
                    KeyCode::Backspace => (Some('\u{8}'), false, false),
                    KeyCode::Enter => (None, true, false),
                    KeyCode::Esc => (None, false, true),
                    _ => (None, false, false),
                };
                return app.on_input_char(c, enter, esc);
            }
            match lookup(k) {
                Some(key) => app.on_key(key),
                None => vec![],
            }
        }
        TermEvent::Mouse(m) => {
            let key = match m.kind {
                MouseEventKind::ScrollUp => Key::Up,
                MouseEventKind::ScrollDown => Key::Down,
                _ => return vec![],
            };
            let focus = app.focus;
            app.focus = Focus::Log;
            let mut out = Vec::new();
            for _ in 0..3 {
                out.extend(app.on_key(key));
            }
            app.focus = focus;
            out
        }
        _ => vec![],
    }
}

/// The set's events: recent output first, then every change as it happens.
fn spawn_feed(socket: &Path, tx: SyncSender<Msg>) {
    let socket = socket.to_path_buf();
    std::thread::spawn(move || {
        if let Ok(mut c) = Client::connect(&socket) {
            let mut lines = Vec::new();
            let _ = c.call(RequestCommand::Logs { names: vec![], lines: BACKLOG, follow: false }, |ev| {
                if let Event::Log { process, line } = ev {
                    lines.push((process, line));
                }
            });
            let _ = tx.send(Msg::Backlog(lines));
        }
        let result = Client::connect(&socket).map_err(|e| CallError::Io(e.to_string())).and_then(|mut c| {
            c.call(RequestCommand::attach(), |ev| {
                let _ = tx.send(Msg::Server(ev));
            })
        });
        let _ = result;
        let _ = tx.send(Msg::Closed);
    });
}

/// The terminal's keys, mouse and resizes. Looks up every [`INPUT_POLL`] to
/// see whether `$PAGER` needs the terminal (then acknowledges and waits).
fn spawn_input(tx: SyncSender<Msg>, paused: Arc<AtomicBool>, ack: mpsc::Sender<()>) {
    std::thread::spawn(move || loop {
        if paused.load(Ordering::SeqCst) {
            let _ = ack.send(());
            while paused.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
            }
            continue;
        }
        match term_event::poll(INPUT_POLL) {
            Ok(true) => match term_event::read() {
                Ok(ev) => {
                    if tx.send(Msg::Term(ev)).is_err() {
                        return;
                    }
                }
                Err(_) => return,
            },
            Ok(false) => {}
            Err(_) => return,
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Overlay;

    #[test]
    fn esc_and_a_key_read_together_are_both_keys() {
        let mut app = App::new(false);
        app.on_key(Key::Help);
        // What a terminal sends for Esc then `?` in one read: Alt+`?`.
        on_terminal(&mut app, TermEvent::Key(KeyEvent::new(KeyCode::Char('?'), KeyModifiers::ALT)));
        assert_eq!(app.overlay, Overlay::Help, "Esc closed the help, then ? opened it again");
        on_terminal(&mut app, TermEvent::Key(KeyEvent::new(KeyCode::Char('d'), KeyModifiers::ALT)));
        assert_eq!(app.overlay, Overlay::Graph);
    }
}
