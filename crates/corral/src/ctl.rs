//! Client commands: `down`, `ps`, `logs`, `start`, `stop`, `restart`, `wait`,
//! `attach`, over the control socket of a running corral (detached or not).

use std::io::{self, Write};
use std::time::Duration;

use corral_protocol::{CallError, Client, Containment, Event, ProcessInfo, RequestCommand, Response};
use corral_supervisor::control::project::Project;

/// Connects, or prints why not and gives the exit status.
fn connect(project: &Project) -> Result<Client, i32> {
    let path = project.socket();
    Client::connect(&path).map_err(|e| {
        match e.kind() {
            io::ErrorKind::NotFound => eprintln!("corral: error: no corral is running for project {} (no socket at {})", project.id, path.display()),
            io::ErrorKind::ConnectionRefused => eprintln!(
                "corral: error: no corral is running for project {} (the socket {} was left by a corral that ended without cleaning up; the next `corral up` replaces it)",
                project.id,
                path.display()
            ),
            _ => eprintln!("corral: error: cannot connect to {}: {e}", path.display()),
        }
        1
    })
}

fn fail(project: &Project, e: CallError) -> i32 {
    match e {
        CallError::Closed => eprintln!("corral: error: the corral of project {} closed the connection", project.id),
        e => eprintln!("corral: error: {e}"),
    }
    1
}

pub fn down(project: &Project) -> i32 {
    let Ok(mut c) = connect(project) else { return 1 };
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
    let Ok(mut c) = connect(project) else { return 1 };
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
    let rows: Vec<[String; 8]> = list
        .iter()
        .map(|p| {
            [
                p.name.clone(),
                p.state.to_string(),
                p.pid.map_or_else(dash, |x| x.to_string()),
                p.uptime_seconds.map_or_else(dash, format_uptime),
                p.restarts.to_string(),
                p.exit.map_or_else(dash, |e| e.to_string()),
                if p.ready { "yes".into() } else { "no".into() },
                p.status.clone().or_else(|| p.reason.clone()).unwrap_or_default(),
            ]
        })
        .collect();
    let header = ["NAME", "STATE", "PID", "UPTIME", "RESTARTS", "EXIT", "READY", "STATUS"].map(String::from);
    let widths: Vec<usize> = (0..8).map(|i| rows.iter().chain([&header]).map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    let mut out = std::io::stdout().lock();
    for r in [&header].into_iter().chain(rows.iter()) {
        let cells: Vec<String> = r.iter().enumerate().map(|(i, c)| if i == 7 { c.clone() } else { format!("{c:<w$}", w = widths[i]) }).collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    // The run's containment (the same for every process): how nothing escapes it.
    match list.first().and_then(|p| p.containment) {
        Some(Containment::Cgroup) => {
            let _ = writeln!(out, "containment: a cgroup v2 for the run (every descendant is stopped through it)");
        }
        Some(Containment::ProcessGroup) => {
            let _ = writeln!(out, "containment: process groups, subreaper and guardian (no writable cgroup v2)");
        }
        None => {}
    }
    0
}

/// A response of another kind than the request asks for: a server bug.
fn unexpected(r: Response) -> i32 {
    eprintln!("corral: error: unexpected response {r:?}");
    1
}

fn format_uptime(s: u64) -> String {
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{}s", s / 60, s % 60),
        _ => format!("{}h{}m", s / 3600, s % 3600 / 60),
    }
}

/// Prints an output event as the foreground run would (`name | line`).
fn print_event(ev: Event, width: usize) {
    let mut out = std::io::stdout().lock();
    match ev {
        Event::Log { process, line } => {
            // Terminal-safe as in the foreground run (issue 14: escapes from processes).
            let line = String::from_utf8_lossy(&corral_protocol::terminal::sanitize(line.as_bytes())).into_owned();
            let _ = writeln!(out, "{process:<width$} | {line}");
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

/// The label width of the project's processes (and hooks), for aligned output.
fn width(c: &mut Client) -> usize {
    match c.call(RequestCommand::Ps, |_| {}) {
        Ok(Response::Processes(list)) => list.iter().map(|p| p.name.chars().count()).max().unwrap_or(0),
        _ => 0,
    }
}

pub fn logs(project: &Project, names: Vec<String>, lines: usize, follow: bool) -> i32 {
    let Ok(mut c) = connect(project) else { return 1 };
    let w = width(&mut c);
    match c.call(RequestCommand::Logs { names, lines, follow }, |ev| print_event(ev, w)) {
        Ok(_) => 0,
        // Following ends when the run does: the connection closes.
        Err(CallError::Closed | CallError::Io(_)) if follow => 0,
        Err(e) => fail(project, e),
    }
}

pub fn attach(project: &Project) -> i32 {
    let Ok(mut c) = connect(project) else { return 1 };
    let w = width(&mut c);
    match c.call(RequestCommand::attach(), |ev| print_event(ev, w)) {
        Ok(_) => 0,
        // The run ending closes the stream: that is the normal end of an attach.
        Err(CallError::Closed | CallError::Io(_)) => 0,
        Err(e) => fail(project, e),
    }
}

pub fn control(project: &Project, command: RequestCommand) -> i32 {
    let Ok(mut c) = connect(project) else { return 1 };
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
    let Ok(mut c) = connect(project) else { return 1 };
    c.set_timeout(timeout.map(Duration::from_secs_f64));
    match c.call(RequestCommand::Wait, |_| {}) {
        Ok(_) => {
            eprintln!("corral: every process of {} is ready", project.id);
            0
        }
        Err(CallError::TimedOut) => {
            eprintln!("corral: error: not every process was ready after {}s", timeout.unwrap_or_default());
            1
        }
        Err(e) => fail(project, e),
    }
}
