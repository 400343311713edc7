//! The command line, as clap types.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "corral", version, about = "Run a project's processes: dependency order, labelled logs, a shutdown that leaves nothing behind")]
pub struct Cli {
    /// More of corral's own log on stderr (-v: debug, -vv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only warnings and errors from corral itself.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// The process set (JSON).
    #[arg(short = 'f', long = "config", env = "CORRAL_CONFIG", default_value = "corral.json")]
    pub config: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the processes (all, or the named ones and what they depend on) and supervise them until they end or corral is stopped.
    Up {
        #[command(flatten)]
        config: ConfigArg,
        /// Colour the process labels: auto = on a terminal unless NO_COLOR is set.
        #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
        color: ColorChoice,
        /// Processes to run; their dependencies come along. Default: every enabled process.
        names: Vec<String>,
    },
    /// Validate a config and explain every problem (exit 2 if it cannot be run).
    Check {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Print the JSON Schema of the config format.
    Schema,
    #[command(name = "__guard", hide = true)]
    Guard { run_id: String },
    #[command(name = "__env", hide = true)]
    Env,
}
