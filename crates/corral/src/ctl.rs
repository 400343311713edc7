//! Client commands: `down`, `ps`, `logs`, `start`, `stop`, `restart`, `wait`,
//! `attach`, over the control socket of a running corral (detached or not).

use std::io::Write;
use std::time::Duration;

use corral_supervisor::control::client::{CallError, Client};
use corral_supervisor::control::project::Project;
use corral_supervisor::control::protocol::{Event, ProcessInfo, RequestCommand};

/// Connects, or prints why not and gives the exit status.
fn connect(project: &Project) -> Result<Client, i32> {
    Client::connect(project).map_err(|e| {
        eprintln!("corral: error: {e}");
        1
    })
}

fn fail(e: CallError) -> i32 {
    eprintln!("corral: error: {e}");
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
        Err(e) => fail(e),
    }
}

pub fn ps(project: &Project, json: bool) -> i32 {
    let Ok(mut c) = connect(project) else { return 1 };
    let v = match c.call(RequestCommand::Ps, |_| {}) {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    if json {
        println!("{v}");
        return 0;
    }
    let list: Vec<ProcessInfo> = serde_json::from_value(v).unwrap_or_default();
    let dash = || "-".to_string();
    let rows: Vec<[String; 8]> = list
        .iter()
        .map(|p| {
            [
                p.name.clone(),
                p.state.clone(),
                p.pid.map_or_else(dash, |x| x.to_string()),
                p.uptime_seconds.map_or_else(dash, format_uptime),
                p.restarts.to_string(),
                p.exit.clone().unwrap_or_else(dash),
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
    0
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
            let line = String::from_utf8_lossy(&corral_supervisor::output::sanitize(line.as_bytes())).into_owned();
            let _ = writeln!(out, "{process:<width$} | {line}");
        }
        Event::Skipped { lines } => eprintln!("corral: ({lines} lines skipped: this client read too slowly)"),
        Event::State { process } => {
            let extra = process.reason.or(process.status).map(|r| format!(": {r}")).unwrap_or_default();
            eprintln!("corral: {}: {}{extra}", process.name, process.state);
        }
    }
    let _ = out.flush();
}

/// The label width of the project's processes (and hooks), for aligned output.
fn width(c: &mut Client) -> usize {
    let names: Vec<ProcessInfo> = c.call(RequestCommand::Ps, |_| {}).ok().and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default();
    names.iter().map(|p| p.name.chars().count()).max().unwrap_or(0)
}

pub fn logs(project: &Project, names: Vec<String>, lines: usize, follow: bool) -> i32 {
    let Ok(mut c) = connect(project) else { return 1 };
    let w = width(&mut c);
    match c.call(RequestCommand::Logs { names, lines, follow }, |ev| print_event(ev, w)) {
        Ok(_) => 0,
        // Following ends when the run does: the connection closes.
        Err(CallError::Io(_)) if follow => 0,
        Err(e) => fail(e),
    }
}

pub fn attach(project: &Project) -> i32 {
    let Ok(mut c) = connect(project) else { return 1 };
    let w = width(&mut c);
    match c.call(RequestCommand::Attach, |ev| print_event(ev, w)) {
        Ok(_) => 0,
        // The run ending closes the stream: that is the normal end of an attach.
        Err(CallError::Io(_)) => 0,
        Err(e) => fail(e),
    }
}

pub fn control(project: &Project, command: RequestCommand) -> i32 {
    let Ok(mut c) = connect(project) else { return 1 };
    match c.call(command, |_| {}) {
        Ok(v) => {
            for (key, verb) in [("started", "started"), ("stopped", "stopped")] {
                if let Some(list) = v.get(key).and_then(|l| l.as_array()) {
                    let names: Vec<&str> = list.iter().filter_map(|n| n.as_str()).collect();
                    if !names.is_empty() {
                        eprintln!("corral: {verb}: {}", names.join(", "));
                    }
                }
            }
            0
        }
        Err(e) => fail(e),
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
        Err(CallError::Io(m)) if m == "timed out" => {
            eprintln!("corral: error: not every process was ready after {}s", timeout.unwrap_or_default());
            1
        }
        Err(e) => fail(e),
    }
}
