//! The `corral` binary: the command line around the config and supervisor crates.
//! Errors become messages and exit statuses here (anyhow at the edge); exit 2
//! always means "bad input, nothing was started".

mod attach_tty;
mod check;
mod cli;
mod completions;
mod ctl;
mod discover;
mod export;
mod logging;
mod project;
mod summary;
mod tui;
mod run_cmd;
mod up;

use std::io::Write;
use std::os::unix::ffi::OsStrExt;

use clap::Parser;
use corral_protocol::RequestCommand;

use crate::cli::{Cli, Command};

/// corral-guard, built by build.rs: run from memory when it is not installed beside corral.
const GUARD: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/corral-guard"));

fn main() {
    // One malloc arena: memory freed by short-lived helper threads (the `ps`
    // figures, a `logs` tail) returns to the one heap the trim gives back,
    // instead of staying in an arena of their own (~0.6 MB after a `logs`).
    corral_supervisor::limit_malloc_arenas();
    corral_supervisor::guardian::embed(GUARD);
    let cli = Cli::parse();
    let command = match cli.command {
        Command::Process { command } => command.into_command(),
        c => c,
    };
    let status = match command {
        Command::Process { .. } => unreachable!("aliases are replaced above"),
        Command::Env => print_env(),
        Command::Schema => {
            println!("{}", serde_json::to_string_pretty(&corral_config::json_schema()).expect("schema serializes"));
            0
        }
        Command::Completions { shell } => completions::completions(shell),
        Command::Manpage { dir } => completions::manpage(dir.as_deref()),
        Command::Export(args) => {
            logging::init(cli.verbose, cli.quiet);
            export::run(&args)
        }
        Command::Check { target, load } => {
            logging::init(cli.verbose, cli.quiet);
            check::check(&target.config, &load)
        }
        Command::Up { target, load, namespaces, no_deps, color, keep_project, tui: true, names, .. } if std::io::IsTerminal::is_terminal(&std::io::stdout()) => {
            let selection = up::Selection { names: &names, namespaces: &namespaces, no_deps, load: &load };
            tui::up_with_dashboard(&target, &selection, keep_project, color, cli.verbose)
        }
        Command::Up { target, load, namespaces, no_deps, color, detach, keep_project, tui, wait, timeout, names } => {
            if tui {
                eprintln!("corral: note: stdout is not a terminal, so no dashboard (--tui); plain output instead");
            }
            let selection = up::Selection { names: &names, namespaces: &namespaces, no_deps, load: &load };
            let args = up::UpArgs { target: &target, selection, color, detach, keep_project, wait, timeout, verbose: cli.verbose, quiet: cli.quiet, foreground: None };
            match up::up(args) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("corral: error: {e:#}");
                    1
                }
            }
        }
        Command::Run { target, load, no_deps, name } => run_cmd::run(&target, &load, no_deps, &name, cli.verbose, cli.quiet),
        Command::Down { target } => with_project(&target.config, target.project.as_deref(), ctl::down),
        Command::Ps { target, json } => with_project(&target.config, target.project.as_deref(), |p| ctl::ps(p, json)),
        Command::Logs { target, follow, lines, names } => with_project(&target.config, target.project.as_deref(), |p| ctl::logs(p, names, lines, follow)),
        Command::Start { target, names } => with_project(&target.config, target.project.as_deref(), |p| ctl::control(p, RequestCommand::Start { names })),
        Command::Stop { target, names } => with_project(&target.config, target.project.as_deref(), |p| ctl::control(p, RequestCommand::Stop { names })),
        Command::Restart { target, names } => with_project(&target.config, target.project.as_deref(), |p| ctl::control(p, RequestCommand::Restart { names })),
        Command::Scale { target, name, replicas } => with_project(&target.config, target.project.as_deref(), |p| ctl::control(p, RequestCommand::Scale { name, replicas })),
        Command::Wait { target, timeout } => with_project(&target.config, target.project.as_deref(), |p| ctl::wait(p, timeout)),
        Command::Attach { target, name: None } => with_project(&target.config, target.project.as_deref(), ctl::attach),
        Command::Attach { target, name: Some(name) } => with_project(&target.config, target.project.as_deref(), |p| attach_tty::attach(p, &name)),
        Command::Tui { target } => with_project(&target.config, target.project.as_deref(), tui::dashboard),
    };
    logging::finish();
    std::process::exit(status);
}

/// Runs a client command against the project `config` (or `explicit`) names.
fn with_project(config: &[std::path::PathBuf], explicit: Option<&str>, f: impl FnOnce(&corral_supervisor::control::project::Project) -> i32) -> i32 {
    match project::running_project(&discover::primary(config), explicit) {
        Ok(p) => f(&p),
        // The project cannot be located ($PRJ_ROOT is not a directory): bad input.
        Err(e) => {
            eprintln!("corral: error: {e}");
            2
        }
    }
}

/// `corral __env`: the environment as `NAME=value\0` records (for the pre_hook).
fn print_env() -> i32 {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (k, v) in std::env::vars_os() {
        let _ = out.write_all(k.as_bytes());
        let _ = out.write_all(b"=");
        let _ = out.write_all(v.as_bytes());
        let _ = out.write_all(b"\0");
    }
    i32::from(out.flush().is_err())
}
