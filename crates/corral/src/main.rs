//! The `corral` binary: the command line around the config and supervisor crates.
//! Errors become messages and exit statuses here (anyhow at the edge); exit 2
//! always means "bad input, nothing was started".

mod check;
mod cli;
mod logging;
mod up;

use std::io::Write;
use std::os::unix::ffi::OsStrExt;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() {
    let cli = Cli::parse();
    let status = match cli.command {
        Command::Guard { run_id } => corral_supervisor::guardian::guardian_main(&run_id),
        Command::Env => print_env(),
        Command::Schema => {
            println!("{}", serde_json::to_string_pretty(&corral_config::json_schema()).expect("schema serializes"));
            0
        }
        Command::Check { config } => {
            logging::init(cli.verbose, cli.quiet);
            check::check(&config.config)
        }
        Command::Up { config, color, names } => {
            logging::init(cli.verbose, cli.quiet);
            match up::up(&config.config, &names, color) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("corral: error: {e:#}");
                    1
                }
            }
        }
    };
    std::process::exit(status);
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
