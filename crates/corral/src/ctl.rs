//! Client commands: `down`, `ps`, `logs`, `start`, `stop`, `restart`, `wait`,
//! `attach`, over the control socket of a running corral (detached or not).
//!
//! Exit statuses (docs/exit-status.md): 0 on success, [`NOT_RUNNING`] when no
//! corral runs for the project, [`FAILED`] when the request failed.

use std::io::{self, Write};
use std::time::Duration;

use corral_protocol::{CallError, Client, Containment, Event, ProcessInfo, RequestCommand, Response};
use corral_supervisor::control::project::Project;

/// No corral is running for the project (no socket, or one left by a corral that ended).
pub const NOT_RUNNING: i32 = 3;
/// The request failed: refused by the server, the connection lost, a timeout.
pub const FAILED: i32 = 1;

/// Connects, or prints why not and gives the exit status.
fn connect(project: &Project) -> Result<Client, i32> {
    let path = project.socket();
    Client::connect(&path).map_err(|e| {
        match e.kind() {
            io::ErrorKind::NotFound => {
                eprintln!("corral: error: no corral is running for project {} (no socket at {})", project.id, path.display());
                return NOT_RUNNING;
            }
            io::ErrorKind::ConnectionRefused => {
                eprintln!(
                "corral: error: no corral is running for project {} (the socket {} was left by a corral that ended without cleaning up; the next `corral up` replaces it)",
                project.id,
                    path.display()
                );
                return NOT_RUNNING;
            }
            _ => eprintln!("corral: error: cannot connect to {}: {e}", path.display()),
        }
        FAILED
    })
}

fn fail(project: &Project, e: CallError) -> i32 {
    match e {
        CallError::Closed => eprintln!("corral: error: the corral of project {} closed the connection", project.id),
        e => eprintln!("corral: error: {e}"),
    }
    FAILED
}

pub fn down(project: &Project) -> i32 {
    let mut c = match connect(project) {
        Ok(c) => c,
        Err(status) => return status,
    };
    match c.call(RequestCommand::Down, |_| {}) {
        Ok(_) => {
            c.wait_closed();
            eprintln!("corral: project {} stopped", project.id);
            0
        }
        Err(e) => fail(project, e),
    }
}

pub fn ps(project: &Project, json: bool) -> i32 {
    let mut c = match connect(project) {
        Ok(c) => c,
        Err(status) => return status,
    };
    let list = match c.call(RequestCommand::Ps, |_| {}) {
        Ok(Response::Processes(list)) => list,
        Ok(other) => return unexpected(other),
        Err(e) => return fail(project, e),
    };
    if json {
        println!("{}", serde_json::to_string(&list).expect("processes serialize"));
        return 0;
    }
    let dash = || "-".to_string();
    let rows: Vec<[String; 10]> = list
        .iter()
        .map(|p| {
            [
                p.name.clone(),
                p.state.to_string(),
                p.pid.map_or_else(dash, |x| x.to_string()),
                p.uptime_seconds.map_or_else(dash, format_uptime),
                p.restarts.to_string(),
                p.exit.map_or_else(dash, |e| e.to_string()),
                match (p.ready, p.readiness_check) {
                    (true, _) => "yes".into(),
                    // Nothing to wait for: "no" would read as "not yet".
                    (false, Some(false)) => "no check".into(),
                    (false, _) => "no".into(),
                },
                p.resources.map_or_else(dash, |r| format!("{:.1}%", r.cpu_percent)),
                p.resources.map_or_else(dash, |r| format_bytes(r.memory_bytes)),
                p.status.clone().or_else(|| p.reason.clone()).unwrap_or_default(),
            ]
        })
        .collect();
    let header = ["NAME", "STATE", "PID", "UPTIME", "RESTARTS", "EXIT", "READY", "CPU", "MEM", "STATUS"].map(String::from);
    let widths: Vec<usize> = (0..10).map(|i| rows.iter().chain([&header]).map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    let mut out = std::io::stdout().lock();
    for r in [&header].into_iter().chain(rows.iter()) {
        let cells: Vec<String> = r.iter().enumerate().map(|(i, c)| if i == 9 { c.clone() } else { format!("{c:<w$}", w = widths[i]) }).collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    // The run's containment (the same for every process): how nothing escapes it.
    match list.first().and_then(|p| p.containment) {
        Some(Containment::Cgroup) => {
            let _ = writeln!(out, "containment: a cgroup v2 for the run (every descendant is stopped through it)");
        }
        Some(Containment::ProcessGroup) => {
            let _ = writeln!(out, "containment: process groups, subreaper and guardian (no cgroup: `corral up -v` says why)");
        }
        None => {}
    }
    0
}

/// A response of another kind than the request asks for: a server bug.
fn unexpected(r: Response) -> i32 {
    eprintln!("corral: error: unexpected response {r:?}");
    FAILED
}

/// Resident memory as a table shows it: 1024-based, one decimal from MiB up.
fn format_bytes(b: u64) -> String {
    const K: f64 = 1024.0;
    let f = b as f64;
    match b {
        0..=1023 => format!("{b}B"),
        1024..=1_048_575 => format!("{:.0}K", f / K),
        1_048_576..=1_073_741_823 => format!("{:.1}M", f / K / K),
        _ => format!("{:.1}G", f / K / K / K),
    }
}

fn format_uptime(s: u64) -> String {
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{}s", s / 60, s % 60),
        _ => format!("{}h{}m", s / 3600, s % 3600 / 60),
    }
}

/// Prints an output event as the foreground run would (`name | line`).
/// Labels are coloured as in the foreground (the same colour for the same
/// process); anstream drops the colour where it is not wanted (not a
/// terminal, NO_COLOR, CLICOLOR=0, TERM=dumb; CLICOLOR_FORCE forces it).
fn print_event(ev: Event, labels: &Labels) {
    let mut out = anstream::stdout().lock();
    match ev {
        Event::Log { process, line } => {
            // Terminal-safe as in the foreground run (issue 14: escapes from processes).
            let line = String::from_utf8_lossy(&corral_protocol::terminal::sanitize(line.as_bytes())).into_owned();
            let style = labels.style(&process);
            let width = labels.width;
            let _ = writeln!(out, "{style}{process:<width$}{style:#} | {line}");
        }
        Event::Skipped { lines } => eprintln!("corral: ({lines} lines skipped: this client read too slowly)"),
        Event::State { process } => print_state(process),
        Event::Snapshot { processes } => {
            eprintln!("corral: (state changes skipped: this client read too slowly; every process as it is now:)");
            processes.into_iter().for_each(print_state);
        }
        // Only for `attach NAME` (see attach_tty.rs).
        Event::Terminal { .. } => {}
    }
    let _ = out.flush();
}

fn print_state(process: ProcessInfo) {
    let extra = process.reason.or(process.status).map(|r| format!(": {r}")).unwrap_or_default();
    eprintln!("corral: {}: {}{extra}", process.name, process.state);
}

/// The foreground's label colours, in its order (processes, then the hooks).
const PALETTE: [anstyle::AnsiColor; 10] = {
    use anstyle::AnsiColor::*;
    [Cyan, Yellow, Green, Magenta, Blue, BrightCyan, BrightYellow, BrightGreen, BrightMagenta, BrightBlue]
};

/// The project's labels: their width, for aligned output, and their colours.
struct Labels {
    names: Vec<String>,
    width: usize,
}

impl Labels {
    fn style(&self, name: &str) -> anstyle::Style {
        match self.names.iter().position(|n| n == name) {
            Some(i) => PALETTE[i % PALETTE.len()].on_default(),
            None => anstyle::Style::new(),
        }
    }
}

fn labels(c: &mut Client) -> Labels {
    let mut names: Vec<String> = match c.call(RequestCommand::Ps, |_| {}) {
        Ok(Response::Processes(list)) => list.into_iter().map(|p| p.name).collect(),
        _ => Vec::new(),
    };
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    names.extend(["pre_hook".to_string(), "post_hook".to_string()]);
    Labels { names, width }
}

pub fn logs(project: &Project, names: Vec<String>, lines: usize, follow: bool) -> i32 {
    let mut c = match connect(project) {
        Ok(c) => c,
        Err(status) => return status,
    };
    let l = labels(&mut c);
    match c.call(RequestCommand::Logs { names, lines, follow }, |ev| print_event(ev, &l)) {
        Ok(_) => 0,
        // Following ends when the run does: the connection closes.
        Err(CallError::Closed | CallError::Io(_)) if follow => 0,
        Err(e) => fail(project, e),
    }
}

pub fn attach(project: &Project) -> i32 {
    let mut c = match connect(project) {
        Ok(c) => c,
        Err(status) => return status,
    };
    let l = labels(&mut c);
    match c.call(RequestCommand::attach(), |ev| print_event(ev, &l)) {
        Ok(_) => 0,
        // The run ending closes the stream: that is the normal end of an attach.
        Err(CallError::Closed | CallError::Io(_)) => 0,
        Err(e) => fail(project, e),
    }
}

pub fn control(project: &Project, command: RequestCommand) -> i32 {
    let mut c = match connect(project) {
        Ok(c) => c,
        Err(status) => return status,
    };
    match c.call(command, |_| {}) {
        Ok(Response::Started { started: names }) | Ok(Response::Stopped { stopped: names }) if names.is_empty() => 0,
        Ok(Response::Started { started }) => {
            eprintln!("corral: started: {}", started.join(", "));
            0
        }
        Ok(Response::Stopped { stopped }) => {
            eprintln!("corral: stopped: {}", stopped.join(", "));
            0
        }
        Ok(Response::Scaled { replicas }) => {
            eprintln!("corral: replicas: {}", replicas.join(", "));
            0
        }
        Ok(other) => unexpected(other),
        Err(e) => fail(project, e),
    }
}

pub fn wait(project: &Project, timeout: Option<f64>) -> i32 {
    let mut c = match connect(project) {
        Ok(c) => c,
        Err(status) => return status,
    };
    c.set_timeout(timeout.map(Duration::from_secs_f64));
    match c.call(RequestCommand::Wait, |_| {}) {
        Ok(_) => {
            eprintln!("corral: every process of {} is ready", project.id);
            0
        }
        Err(CallError::TimedOut) => {
            eprintln!("corral: error: not every process was ready after {}s", timeout.unwrap_or_default());
            FAILED
        }
        Err(e) => fail(project, e),
    }
}
