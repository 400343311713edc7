//! `corral run NAME`: process-compose's `run`. NAME runs in the foreground
//! with a terminal and the user's keyboard (as `attach NAME`), its
//! dependencies in the background (a detached run of NAME and what it
//! depends on, their output in the run's log, not on the screen); when NAME
//! ends, the run stops in order and `corral run` exits with NAME's status.
//! NAME gets a terminal whether or not it has `is_tty`, and `exit_on_end`.

use corral_protocol::{Client, ProcessState, RequestCommand, Response};

use crate::cli::{ColorChoice, LoadFlags, Target};

pub fn run(target: &Target, load: &LoadFlags, no_deps: bool, name: &str, verbose: u8, quiet: bool) -> i32 {
    let names = [name.to_string()];
    let selection = crate::up::Selection { names: &names, namespaces: &[], no_deps, load };
    let args = crate::up::UpArgs { target, selection, color: ColorChoice::Never, detach: true, keep_project: false, wait: false, timeout: None, verbose, quiet, foreground: Some(name) };
    match crate::up::up(args) {
        Ok(0) => {}
        Ok(status) => return status,
        Err(e) => {
            eprintln!("corral: error: {e:#}");
            return 1;
        }
    }
    let project = match crate::project::running_project(&crate::discover::primary(&target.config), target.project.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("corral: error: {e}");
            return 1;
        }
    };
    // NAME may wait for its dependencies first: attach once it runs.
    loop {
        let state = Client::connect(&project.socket()).ok().and_then(|mut c| match c.call(RequestCommand::Ps, |_| {}) {
            Ok(Response::Processes(all)) => all.into_iter().find(|p| p.name == name),
            _ => None,
        });
        match state.map(|p| (p.state, p.reason)) {
            Some((ProcessState::Pending | ProcessState::Waiting | ProcessState::Starting, _)) => std::thread::sleep(std::time::Duration::from_millis(100)),
            Some((ProcessState::Running | ProcessState::Ready, _)) => break,
            Some((state, reason)) => {
                eprintln!("corral: {name} is {state}{}", reason.map(|r| format!(": {r}")).unwrap_or_default());
                break;
            }
            None => break,
        }
    }
    // NAME has ended (the attach says how) or the user detached; then the rest stops.
    let (attached, status) = crate::attach_tty::session(&project, name);
    if let Ok(mut c) = Client::connect(&project.socket()) {
        if c.call(RequestCommand::Down, |_| {}).is_ok() {
            c.wait_closed();
        }
    }
    match status {
        Some(s) => s,
        None if attached != 0 => attached,
        None => {
            eprintln!("corral: {name} did not end (detached); the run was stopped");
            0
        }
    }
}
