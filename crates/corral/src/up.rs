//! `corral up`: load, plan, take the project's lock, optionally detach, start
//! the guardian, then run the supervisor on a single-threaded runtime (a
//! supervisor waits on I/O; one thread keeps its footprint small and its
//! behaviour easy to follow).
//!
//! Detaching forks before any thread exists: the child starts a new session,
//! sends its output to files in the project's state directory, and tells the
//! parent through a pipe once its control socket answers; the parent then
//! returns (after `--wait`, once every process is ready).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::path::Path;

use anyhow::Context;
use corral_supervisor::control::project::Project;
use corral_supervisor::guardian::Guardian;
use corral_config::plan::Plan;
use corral_supervisor::RotationPolicy;
use corral_supervisor::RunOptions;
use nix::unistd::ForkResult;

use crate::check::{load_reporting, BAD_CONFIG};
use crate::cli::{ColorChoice, Target};

pub struct UpArgs<'a> {
    pub target: &'a Target,
    pub selection: Selection<'a>,
    pub color: ColorChoice,
    pub detach: bool,
    /// Stay up after every process ended, until `corral down` (--keep-project).
    pub keep_project: bool,
    pub wait: bool,
    pub timeout: Option<f64>,
    pub verbose: u8,
    pub quiet: bool,
    /// `corral run NAME`: NAME gets a terminal and ends the run (see run_cmd.rs).
    pub foreground: Option<&'a str>,
}

/// Which processes to run (see corral_config::select).
pub struct Selection<'a> {
    pub names: &'a [String],
    pub namespaces: &'a [String],
    pub no_deps: bool,
    pub load: &'a crate::cli::LoadFlags,
}

pub fn up(a: UpArgs) -> anyhow::Result<i32> {
    if !a.detach {
        crate::logging::init(a.verbose, a.quiet);
    }
    let (opts, located) = match crate::discover::options_located(&a.target.config, a.selection.load) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("corral: error: {e}");
            return Ok(BAD_CONFIG);
        }
    };
    let mut loaded = match load_reporting(&opts, false) {
        Ok(l) => l,
        Err(status) => return Ok(status),
    };
    let names = match corral_config::select(&mut loaded, a.selection.names, a.selection.namespaces, a.selection.no_deps) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("corral: error: {e}; nothing was started");
            return Ok(BAD_CONFIG);
        }
    };
    let mut plan = match Plan::new(&loaded, &names, &located.root) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("corral: error: {e}; nothing was started");
            return Ok(BAD_CONFIG);
        }
    };
    for p in plan.processes.iter_mut().filter(|p| Some(p.name.as_str()) == a.foreground) {
        p.tty = true;
        p.exit_on_end = true;
    }
    let project = crate::project::project(&located, a.target.project.as_deref(), loaded.config.name.as_deref());
    // The plan holds all the run needs: the loaded config (kilobytes a process) goes now.
    drop(loaded);
    let mut lock = match project.lock() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("corral: error: {e}");
            return Ok(1);
        }
    };
    // The supervisor's threads (all started from here on: corral's own log,
    // the runtime, the output writers) yield to the processes they serve; the
    // processes get the default policy back (see platform/sched.rs).
    corral_supervisor::run_as_batch_work();
    let mut started = None;
    if a.detach {
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("cannot create a pipe")?;
        // SAFETY: no thread has been started yet (no runtime, no guardian).
        match unsafe { nix::unistd::fork() }.context("cannot fork")? {
            ForkResult::Parent { child } => {
                drop(write);
                crate::logging::init(a.verbose, a.quiet);
                return Ok(wait_for_child(&project, File::from(read), child.as_raw(), a.wait, a.timeout));
            }
            ForkResult::Child => {
                drop(read);
                become_daemon(&project)?;
                project.record_pid(&mut lock);
                // corral.log rotates like output.log (the set's rotation, else 10 MiB x 5).
                let policy = plan.log_rotation.map(RotationPolicy::from).unwrap_or(RotationPolicy::DETACHED_OUTPUT);
                crate::logging::init_file(a.verbose, a.quiet, &project.corral_log(), policy);
                started = Some(File::from(write));
            }
        }
    }
    let self_exe = std::env::current_exe().context("cannot find corral's own executable")?;
    let run_id = format!("{}-{}", std::process::id(), now_nanos());
    // The guardian is forked before the runtime starts any thread.
    let guardian = match Guardian::spawn(&self_exe, &run_id) {
        Ok(g) => Some(g),
        Err(e) => {
            tracing::warn!("cannot start the guardian ({e}); if corral is killed, its processes may survive");
            None
        }
    };
    let color = match a.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        // anstream decides: a terminal, NO_COLOR, CLICOLOR, CLICOLOR_FORCE, TERM=dumb.
        ColorChoice::Auto => anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never,
    };
    // Plain output on a terminal: a one-line start-up summary on stderr.
    if !a.detach && std::io::IsTerminal::is_terminal(&std::io::stdout()) && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        crate::summary::spawn(project.socket());
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the async runtime")?;
    let status = runtime.block_on(corral_supervisor::run(RunOptions { plan, color, self_exe, run_id, guardian, project: Some(project.clone()), started, keep_project: a.keep_project }));
    project.release(lock);
    match status {
        Ok(s) => Ok(s),
        Err(e) => {
            eprintln!("corral: error: {e}; nothing was started");
            Ok(BAD_CONFIG)
        }
    }
}

/// The detached child: a session of its own (no terminal signals), stdin from
/// /dev/null, output and corral's own log appended to the state directory.
fn become_daemon(project: &Project) -> anyhow::Result<()> {
    nix::unistd::setsid().context("setsid")?;
    let open = |p: &Path| OpenOptions::new().create(true).append(true).open(p).with_context(|| format!("cannot open {}", p.display()));
    let null = File::open("/dev/null")?;
    let out = open(&project.output_log())?;
    let err = open(&project.corral_log())?;
    for (from, to) in [(null.as_raw_fd(), 0), (out.as_raw_fd(), 1), (err.as_raw_fd(), 2)] {
        nix::unistd::dup2(from, to).context("redirecting output")?;
    }
    Ok(())
}

/// The parent of a detached run: reports how the start went, then returns.
fn wait_for_child(project: &Project, pipe: File, child: i32, wait: bool, timeout: Option<f64>) -> i32 {
    let mut line = String::new();
    let _ = BufReader::new(pipe).read_line(&mut line);
    match line.trim() {
        "ok" => {}
        msg if msg.starts_with("error: ") => {
            eprintln!("corral: {msg}");
            return 1;
        }
        _ => {
            eprintln!("corral: error: the background corral exited while starting; see {}", project.corral_log().display());
            return 1;
        }
    }
    if wait {
        let status = crate::ctl::wait(project, timeout);
        if status != 0 {
            eprintln!("corral: it keeps running in the background: `corral ps`, `corral logs`, `corral down`");
            return status;
        }
    }
    eprintln!(
        "corral: project {} runs in the background (pid {child}); output in {}; `corral down` stops it",
        project.id,
        project.output_log().display()
    );
    0
}

fn now_nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}
