//! corral's own log: stderr, through tracing, in a style unlike process output
//! (`name | line` on stdout): `corral: api: started (pid 42)`, levels other than
//! INFO spelled out, dimmed on a terminal.
//!
//! A detached run writes it to `corral.log` in its state directory instead,
//! through a thread of its own that rotates the file ([`init_file`]), so it
//! never grows without bound; [`finish`] flushes it before corral exits.

use std::fmt;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::mpsc::SyncSender;
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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
fn level(verbose: u8, quiet: bool) -> Level {
    std::env::var("CORRAL_LOG").ok().and_then(|v| v.parse::<Level>().ok()).unwrap_or(match (quiet, verbose) {
        (true, _) => Level::WARN,
        (false, 0) => Level::INFO,
        (false, 1) => Level::DEBUG,
        _ => Level::TRACE,
    })
}

/// corral's own log on stderr.
pub fn init(verbose: u8, quiet: bool) {
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_max_level(level(verbose, quiet))
        .with_writer(std::io::stderr)
        .event_format(CorralFormat { ansi })
        .init();
}

/// The channel to the thread writing corral's own log to a file, and the thread.
type FileLog = (SyncSender<Vec<u8>>, JoinHandle<()>);

/// The thread writing corral's own log to a file, while there is one.
static FILE_LOG: Mutex<Option<FileLog>> = Mutex::new(None);

/// corral's own log appended to `path` (a detached run's corral.log), rotated by
/// `policy`; fd 2 follows the rotation (for direct writes). Falls back to stderr
/// if the file cannot be opened.
pub fn init_file(verbose: u8, quiet: bool, path: &Path, policy: corral_supervisor::RotationPolicy) {
    let (tx, thread) = match corral_supervisor::start_file_log(path, policy, Some(2)) {
        Ok(t) => t,
        Err(e) => {
            init(verbose, quiet);
            tracing::warn!("cannot write {}: {e}; corral's own log goes to stderr unrotated", path.display());
            return;
        }
    };
    *FILE_LOG.lock().unwrap() = Some((tx.clone(), thread));
    tracing_subscriber::fmt()
        .with_max_level(level(verbose, quiet))
        .with_writer(move || Record(tx.clone()))
        .event_format(CorralFormat { ansi: false })
        .init();
}

/// One formatted record, handed to the log thread (stderr once it has ended).
struct Record(SyncSender<Vec<u8>>);

impl std::io::Write for Record {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !buf.is_empty() && self.0.send(buf.to_vec()).is_err() {
            return std::io::stderr().write(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How long the log thread may take for its last records at exit.
const FINISH_BOUND: Duration = Duration::from_secs(5);

/// Before exiting: the log thread (if any) writes what it holds and ends.
pub fn finish() {
    let Some((tx, thread)) = FILE_LOG.lock().unwrap().take() else { return };
    let _ = tx.send(Vec::new());
    let deadline = Instant::now() + FINISH_BOUND;
    while !thread.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    if thread.is_finished() {
        let _ = thread.join();
    }
}
