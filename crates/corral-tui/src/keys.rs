//! Every key of the dashboard, in one table: the help overlay lists it and
//! the key handler reads it, so they cannot drift apart. The keys follow
//! process-compose (F-keys, Ctrl-R) and mprocs (letters) where they exist.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Up,
    Down,
    Top,
    Bottom,
    PageUp,
    PageDown,
    SwitchFocus,
    ShowOne,
    ShowAll,
    Start,
    Stop,
    Restart,
    StopAll,
    Scale,
    Search,
    NextMatch,
    PrevMatch,
    Filter,
    Sort,
    ReverseSort,
    Follow,
    Wrap,
    Timestamps,
    Zoom,
    Select,
    Pager,
    Graph,
    Help,
    Quit,
    Escape,
}

/// (key as shown, what it does, the keys that press it).
pub const KEYS: &[(&str, &str, Key)] = &[
    ("↑ k", "previous process / scroll up", Key::Up),
    ("↓ j", "next process / scroll down", Key::Down),
    ("Home g", "first process / oldest line", Key::Top),
    ("End G", "last process / newest line (follow)", Key::Bottom),
    ("PgUp Ctrl-U", "page up, then older lines from the log file", Key::PageUp),
    ("PgDn Ctrl-D", "log: page down", Key::PageDown),
    ("Tab", "move between table and log", Key::SwitchFocus),
    ("Enter", "log of the selected process", Key::ShowOne),
    ("a", "all logs, merged and labelled", Key::ShowAll),
    ("s F7", "start it (and what it needs)", Key::Start),
    ("x F9", "stop it (its dependents first)", Key::Stop),
    ("r Ctrl-R", "restart it (with its dependents)", Key::Restart),
    ("X", "stop every process (asks first)", Key::StopAll),
    ("S", "scale it: how many replicas", Key::Scale),
    ("/ Ctrl-F", "search the log", Key::Search),
    ("n", "next match", Key::NextMatch),
    ("N", "previous match", Key::PrevMatch),
    ("F", "filter processes by name or namespace", Key::Filter),
    ("o", "sort by the next column", Key::Sort),
    ("O", "reverse the sort", Key::ReverseSort),
    ("f F5", "follow the log on/off", Key::Follow),
    ("w F6", "wrap long lines on/off", Key::Wrap),
    ("t", "timestamps on/off", Key::Timestamps),
    ("z F4", "log full screen on/off", Key::Zoom),
    ("v", "select mode: mouse released, to copy", Key::Select),
    ("p", "open the log in $PAGER", Key::Pager),
    ("d", "dependency graph", Key::Graph),
    ("? F1", "this help", Key::Help),
    ("q F10 Ctrl-C", "quit", Key::Quit),
    ("Esc", "close, clear the search or filter", Key::Escape),
];

/// The key a press means, outside text input.
pub fn lookup(e: KeyEvent) -> Option<Key> {
    let ctrl = e.modifiers.contains(KeyModifiers::CONTROL);
    Some(match e.code {
        KeyCode::Char('c') if ctrl => Key::Quit,
        KeyCode::Char('r') if ctrl => Key::Restart,
        KeyCode::Char('f') if ctrl => Key::Search,
        KeyCode::Char('u') if ctrl => Key::PageUp,
        KeyCode::Char('d') if ctrl => Key::PageDown,
        _ if ctrl => return None,
        KeyCode::Up | KeyCode::Char('k') => Key::Up,
        KeyCode::Down | KeyCode::Char('j') => Key::Down,
        KeyCode::Home | KeyCode::Char('g') => Key::Top,
        KeyCode::End | KeyCode::Char('G') => Key::Bottom,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        KeyCode::Tab | KeyCode::BackTab => Key::SwitchFocus,
        KeyCode::Enter => Key::ShowOne,
        KeyCode::Char('a') => Key::ShowAll,
        KeyCode::Char('s') | KeyCode::F(7) => Key::Start,
        KeyCode::Char('x') | KeyCode::F(9) => Key::Stop,
        KeyCode::Char('r') => Key::Restart,
        KeyCode::Char('X') => Key::StopAll,
        KeyCode::Char('S') => Key::Scale,
        KeyCode::Char('/') => Key::Search,
        KeyCode::Char('n') => Key::NextMatch,
        KeyCode::Char('N') => Key::PrevMatch,
        KeyCode::Char('F') => Key::Filter,
        KeyCode::Char('o') => Key::Sort,
        KeyCode::Char('O') => Key::ReverseSort,
        KeyCode::Char('f') | KeyCode::F(5) => Key::Follow,
        KeyCode::Char('w') | KeyCode::F(6) => Key::Wrap,
        KeyCode::Char('t') => Key::Timestamps,
        KeyCode::Char('z') | KeyCode::F(4) => Key::Zoom,
        KeyCode::Char('v') => Key::Select,
        KeyCode::Char('p') => Key::Pager,
        KeyCode::Char('d') => Key::Graph,
        KeyCode::Char('?') | KeyCode::F(1) => Key::Help,
        KeyCode::Char('q') | KeyCode::F(10) => Key::Quit,
        KeyCode::Esc => Key::Escape,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_in_the_help() {
        let all = [
            Key::Up, Key::Down, Key::Top, Key::Bottom, Key::PageUp, Key::PageDown, Key::SwitchFocus, Key::ShowOne, Key::ShowAll, Key::Start, Key::Stop,
            Key::Restart, Key::StopAll, Key::Scale, Key::Search, Key::NextMatch, Key::PrevMatch, Key::Filter, Key::Sort, Key::ReverseSort, Key::Follow, Key::Wrap,
            Key::Timestamps, Key::Zoom, Key::Select, Key::Pager, Key::Graph, Key::Help, Key::Quit, Key::Escape,
        ];
        for k in all {
            assert!(KEYS.iter().any(|(_, _, x)| *x == k), "{k:?} missing from the help");
        }
        assert_eq!(lookup(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL)), Some(Key::Restart));
        assert_eq!(lookup(KeyEvent::new(KeyCode::F(10), KeyModifiers::NONE)), Some(Key::Quit));
    }
}
