//! `corral up`: load, plan, start the guardian, then run the supervisor on a
//! single-threaded runtime (a supervisor waits on I/O; one thread keeps its
//! footprint small and its behaviour easy to follow).

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Context;
use corral_supervisor::guardian::Guardian;
use corral_supervisor::{Plan, RunOptions};

use crate::check::{load_reporting, BAD_CONFIG};
use crate::cli::ColorChoice;

pub fn up(config: &Path, names: &[String], color: ColorChoice) -> anyhow::Result<i32> {
    let loaded = match load_reporting(config, false) {
        Ok(l) => l,
        Err(status) => return Ok(status),
    };
    let root = std::env::current_dir().context("cannot determine the current directory")?;
    let plan = match Plan::new(&loaded, names, &root) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("corral: error: {e}; nothing was started");
            return Ok(BAD_CONFIG);
        }
    };
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
    let color = match color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the async runtime")?;
    let status = runtime.block_on(corral_supervisor::run(RunOptions { plan, color, self_exe, run_id, guardian }));
    match status {
        Ok(s) => Ok(s),
        Err(e) => {
            eprintln!("corral: error: {e}; nothing was started");
            Ok(BAD_CONFIG)
        }
    }
}

fn now_nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}
