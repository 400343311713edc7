//! How states look: a symbol for each (readable without colour), and
//! colours unless `NO_COLOR` is set (<https://no-color.org>).

use corral_protocol::ProcessState;
use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    /// Colour unless NO_COLOR is set to a non-empty value.
    pub fn from_env() -> Theme {
        Theme { color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) }
    }

    pub fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    pub fn state(&self, s: ProcessState) -> Style {
        self.fg(state_color(s))
    }

    pub fn header(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn highlight(&self) -> Style {
        if self.color {
            Style::new().bg(Color::Yellow).fg(Color::Black)
        } else {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::UNDERLINED)
        }
    }

    pub fn dim(&self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }

    /// A process's label colour in the merged log: the foreground's colour
    /// for the `index`th process of the set (hooks after the processes).
    pub fn label(&self, index: usize) -> Style {
        const PALETTE: [Color; 10] = [
            Color::Cyan,
            Color::Yellow,
            Color::Green,
            Color::Magenta,
            Color::Blue,
            Color::LightCyan,
            Color::LightYellow,
            Color::LightGreen,
            Color::LightMagenta,
            Color::LightBlue,
        ];
        self.fg(PALETTE[index % PALETTE.len()])
    }
}

pub fn symbol(s: ProcessState) -> &'static str {
    use ProcessState::*;
    match s {
        Pending | Waiting => "…",
        Disabled => "-",
        Starting => "▷",
        Running => "▶",
        Ready => "●",
        Restarting => "↻",
        Stopping => "◆",
        Completed => "✓",
        Failed => "✗",
        Skipped => "⊘",
        Stopped => "■",
    }
}

fn state_color(s: ProcessState) -> Color {
    use ProcessState::*;
    match s {
        Ready => Color::Green,
        Running | Starting => Color::Cyan,
        Completed => Color::Blue,
        Failed => Color::Red,
        Restarting | Stopping => Color::Yellow,
        Pending | Waiting | Disabled | Skipped | Stopped => Color::DarkGray,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_colour_states_still_read_and_nothing_is_coloured() {
        let plain = Theme { color: false };
        assert_eq!(plain.state(ProcessState::Failed), Style::new());
        assert_eq!(plain.label(3), Style::new());
        assert!(plain.highlight().add_modifier.contains(Modifier::REVERSED), "matches stay visible without colour");
        assert_eq!(Theme { color: true }.state(ProcessState::Failed).fg, Some(Color::Red));
        let all = [
            ProcessState::Pending, ProcessState::Disabled, ProcessState::Waiting, ProcessState::Starting, ProcessState::Running, ProcessState::Ready,
            ProcessState::Restarting, ProcessState::Stopping, ProcessState::Completed, ProcessState::Failed, ProcessState::Skipped, ProcessState::Stopped,
        ];
        let symbols: std::collections::HashSet<&str> = all.iter().map(|s| symbol(*s)).collect();
        assert!(symbols.len() >= 10, "states tell apart by symbol: {symbols:?}");
    }
}
