//! `corral tui` (the dashboard of a running project) and `corral up --tui`
//! (a run with the dashboard in front). The dashboard is a client of the
//! control socket (crates/corral-tui); for `up --tui` the run itself is a
//! plain `corral up` child whose output goes to the project's log files, so
//! nothing but the dashboard writes to the terminal, and the dashboard's
//! quit (confirmed) stops the run through the socket like `corral down`.

use std::fs::OpenOptions;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use corral_protocol::{Client, RequestCommand};
use corral_supervisor::control::project::Project;
use corral_tui::{Options, Outcome};

use crate::cli::{ColorChoice, Target};
use crate::up::Selection;

/// How long `up --tui` waits for the run's control socket.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// `corral tui`: attach to a running project; quitting leaves it running.
pub fn dashboard(project: &Project) -> i32 {
    if !std::io::IsTerminal::is_terminal(&io::stdout()) {
        eprintln!("corral: error: the dashboard needs a terminal; `corral ps`, `corral logs -f` and `corral attach` work without one");
        return 2;
    }
    let socket = project.socket();
    match corral_tui::run(Options { socket: socket.clone(), title: format!("corral: {}", project.id), owns_run: false }) {
        Ok(_) => 0,
        Err(e) if e.kind() == io::ErrorKind::NotFound || e.kind() == io::ErrorKind::ConnectionRefused => {
            eprintln!("corral: error: no corral is running for project {} (no answer at {})", project.id, socket.display());
            1
        }
        Err(e) => {
            eprintln!("corral: error: the dashboard failed: {e}");
            1
        }
    }
}

/// `corral up --tui`: start the run as a child, open the dashboard on it,
/// and return the run's exit status once it is over.
pub fn up_with_dashboard(target: &Target, selection: &Selection, keep_project: bool, color: ColorChoice, verbose: u8) -> i32 {
    // The project as the client commands find it (the same discovery and root as `up`).
    let project = match crate::project::running_project(&crate::discover::primary(&target.config), target.project.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("corral: error: {e}");
            return 1;
        }
    };
    let log_start = std::fs::metadata(project.corral_log()).map_or(0, |m| m.len());
    let mut child = match spawn_run(&project, target, selection, keep_project, color, verbose) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("corral: error: cannot start the run: {e}");
            return 1;
        }
    };
    if let Some(status) = wait_for_socket(&project, &mut child) {
        eprintln!("corral: the run ended before the dashboard could open:");
        print_log_since(&project, log_start);
        return status;
    }
    let outcome = corral_tui::run(Options { socket: project.socket(), title: format!("corral: {}", project.id), owns_run: true });
    match outcome {
        Ok(Outcome::Stopped | Outcome::Ended) => {}
        Ok(Outcome::Quit) | Err(_) => {
            // The dashboard went away without stopping the run: stop it now.
            if let Err(e) = &outcome {
                eprintln!("corral: error: the dashboard failed: {e}; stopping the run");
            }
            if let Ok(mut c) = Client::connect(&project.socket()) {
                if c.call(RequestCommand::Down, |_| {}).is_ok() {
                    c.wait_closed();
                }
            }
        }
    }
    let status = match child.wait() {
        Ok(s) => s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0)),
        Err(_) => 1,
    };
    eprintln!("corral: the run ended (status {status}); its output is in {}", project.output_log().display());
    status
}

fn spawn_run(project: &Project, target: &Target, selection: &Selection, keep_project: bool, color: ColorChoice, verbose: u8) -> io::Result<Child> {
    project.create_dir()?;
    let open = |p: &std::path::Path| OpenOptions::new().create(true).append(true).open(p);
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("up");
    for f in &target.config {
        cmd.arg("--config").arg(f);
    }
    if let Some(p) = &target.project {
        cmd.arg("--project").arg(p);
    }
    for e in &selection.load.env {
        cmd.arg("--env").arg(e);
    }
    if selection.load.disable_dotenv {
        cmd.arg("--disable-dotenv");
    }
    for n in selection.namespaces {
        cmd.arg("--namespace").arg(n);
    }
    if selection.no_deps {
        cmd.arg("--no-deps");
    }
    if keep_project {
        cmd.arg("--keep-project");
    }
    if color == ColorChoice::Always {
        cmd.arg("--color=always");
    }
    for _ in 0..verbose {
        cmd.arg("-v");
    }
    cmd.arg("--").args(selection.names);
    cmd.stdin(Stdio::null()).stdout(open(&project.output_log())?).stderr(open(&project.corral_log())?);
    // If this process dies (killed, its terminal closed), the run stops in order (SIGTERM) instead of living on unseen.
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM).map_err(io::Error::from));
    }
    cmd.spawn()
}

/// Waits until the run's control socket answers; Some(status) if the run ended first.
fn wait_for_socket(project: &Project, child: &mut Child) -> Option<i32> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s.code().unwrap_or(1));
        }
        if let Ok(mut c) = Client::connect(&project.socket()) {
            c.set_timeout(Some(Duration::from_secs(5)));
            if c.call(RequestCommand::Hello, |_| {}).is_ok() {
                return None;
            }
        }
        if Instant::now() > deadline {
            eprintln!("corral: warning: the run's control socket did not answer within {}s; opening the dashboard anyway", START_TIMEOUT.as_secs());
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn print_log_since(project: &Project, from: u64) {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(project.corral_log()) {
        let _ = f.seek(SeekFrom::Start(from));
        let _ = f.take(64 * 1024).read_to_string(&mut text);
    }
    eprint!("{text}");
}
