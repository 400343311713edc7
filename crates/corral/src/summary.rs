//! The one-line start-up summary of a foreground run on a terminal
//! (`corral: 5/7 ready, waiting for db (starting)`): a client of the run's
//! own control socket, on a thread, so the supervisor needs no knowledge of
//! it. It prints once if start-up takes longer than [`PATIENCE`], and once
//! when every process has settled (ready, completed, running without a
//! readiness check, or ended), then leaves.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use corral_protocol::{Client, Event, ProcessInfo, ProcessState, RequestCommand};

/// After this long, say what start-up is still waiting for.
const PATIENCE: Duration = Duration::from_secs(3);
/// Give up looking for the socket after this long.
const FIND_SOCKET: Duration = Duration::from_secs(30);

pub fn spawn(socket: PathBuf) {
    std::thread::spawn(move || {
        let started = Instant::now();
        let mut client = loop {
            if let Ok(c) = Client::connect(&socket) {
                break c;
            }
            if started.elapsed() > FIND_SOCKET {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // Every process first: attach's first events come one process at a time.
        let mut procs: Vec<ProcessInfo> = match client.call(RequestCommand::Ps, |_| {}) {
            Ok(corral_protocol::Response::Processes(list)) => list,
            _ => return,
        };
        let mut said_waiting = false;
        let mut done = false;
        // Waking on events only: the "still waiting" line comes with the first event after PATIENCE.
        let _ = client.call(RequestCommand::attach(), |ev| {
            if done {
                return;
            }
            match ev {
                Event::State { process } => match procs.iter_mut().find(|p| p.name == process.name) {
                    Some(p) => *p = process,
                    None => procs.push(process),
                },
                Event::Snapshot { processes } => procs = processes,
                // Output: only a chance to say what start-up still waits for.
                _ if said_waiting || started.elapsed() <= PATIENCE || procs.is_empty() => return,
                _ => {}
            }
            let line = summary(&procs);
            if line.settled {
                eprintln!("corral: {} ({:.1}s)", line.text, started.elapsed().as_secs_f64());
                done = true;
            } else if !said_waiting && started.elapsed() > PATIENCE {
                eprintln!("corral: {}", line.text);
                said_waiting = true;
            }
        });
    });
}

pub struct Summary {
    pub text: String,
    pub settled: bool,
}

/// `5/7 ready, waiting for db (starting), api (waiting)`, or `7/7 ready`, `6/7 ready, 1 failed: x`.
pub fn summary(procs: &[ProcessInfo]) -> Summary {
    use ProcessState::*;
    let taking_part: Vec<&ProcessInfo> = procs.iter().filter(|p| p.state != Disabled).collect();
    let up = |p: &ProcessInfo| matches!(p.state, Ready | Completed) || (p.state == Running && p.readiness_check == Some(false));
    let ready = taking_part.iter().filter(|p| up(p)).count();
    let failed: Vec<&str> = taking_part.iter().filter(|p| matches!(p.state, Failed | Skipped)).map(|p| p.name.as_str()).collect();
    let waiting: Vec<String> = taking_part
        .iter()
        .filter(|p| !up(p) && !matches!(p.state, Failed | Skipped | Stopped))
        .map(|p| format!("{} ({})", p.name, if p.state == Running { "not ready yet".to_string() } else { p.state.to_string() }))
        .collect();
    let mut text = format!("{ready}/{} ready", taking_part.len());
    if !failed.is_empty() {
        text.push_str(&format!(", {} failed or skipped: {}", failed.len(), failed.join(", ")));
    }
    if !waiting.is_empty() {
        let shown: Vec<&str> = waiting.iter().take(3).map(String::as_str).collect();
        text.push_str(&format!(", waiting for {}", shown.join(", ")));
        if waiting.len() > 3 {
            text.push_str(&format!(" and {} more", waiting.len() - 3));
        }
    }
    Summary { text, settled: waiting.is_empty() && !taking_part.is_empty() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, state: ProcessState, check: bool) -> ProcessInfo {
        ProcessInfo { state, readiness_check: Some(check), ..ProcessInfo::pending(name.into()) }
    }

    #[test]
    fn says_what_start_up_waits_for() {
        use ProcessState::*;
        let s = summary(&[p("db", Running, true), p("api", Waiting, false), p("job", Completed, false), p("w", Running, false), p("off", Disabled, false)]);
        assert_eq!(s.text, "2/4 ready, waiting for db (not ready yet), api (waiting)");
        assert!(!s.settled);
        let s = summary(&[p("db", Ready, true), p("api", Failed, false)]);
        assert_eq!(s.text, "1/2 ready, 1 failed or skipped: api");
        assert!(s.settled);
    }
}
