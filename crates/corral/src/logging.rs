//! corral's own log: stderr, through tracing, in a style unlike process output
//! (`name | line` on stdout): `corral: api: started (pid 42)`, levels other than
//! INFO spelled out, dimmed on a terminal.

use std::fmt;
use std::io::IsTerminal;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

struct CorralFormat {
    ansi: bool,
}

impl<S, N> FormatEvent<S, N> for CorralFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut w: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let level = *event.metadata().level();
        let (tag, colour) = match level {
            Level::ERROR => ("error: ", "31"),
            Level::WARN => ("warning: ", "33"),
            Level::INFO => ("", "2"),
            Level::DEBUG => ("debug: ", "2"),
            Level::TRACE => ("trace: ", "2"),
        };
        if self.ansi {
            write!(w, "\x1b[{colour}mcorral: {tag}")?;
        } else {
            write!(w, "corral: {tag}")?;
        }
        ctx.field_format().format_fields(w.by_ref(), event)?;
        if self.ansi {
            write!(w, "\x1b[0m")?;
        }
        writeln!(w)
    }
}

/// `verbose`/`quiet` from the command line; `CORRAL_LOG` (error, warn, info,
/// debug, trace) overrides both.
pub fn init(verbose: u8, quiet: bool) {
    let level = std::env::var("CORRAL_LOG").ok().and_then(|v| v.parse::<Level>().ok()).unwrap_or(match (quiet, verbose) {
        (true, _) => Level::WARN,
        (false, 0) => Level::INFO,
        (false, 1) => Level::DEBUG,
        _ => Level::TRACE,
    });
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .event_format(CorralFormat { ansi })
        .init();
}
