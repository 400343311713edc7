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

/// Which config, and so which project.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// The process set: JSON, or process-compose YAML (.yaml/.yml). Repeatable: files
    /// merge in order. Default: $CORRAL_CONFIG, else corral.json, else $PC_CONFIG_FILES,
    /// else compose.yml, compose.yaml, process-compose.yml, process-compose.yaml (plus
    /// its .override file).
    #[arg(short = 'f', long = "config")]
    pub config: Vec<PathBuf>,
    /// The project's name (default: the config's `name`, else its file name); with the
    /// project root ($PRJ_ROOT, else the nearest directory holding flake.nix or the config), it identifies the running corral to talk to.
    #[arg(short = 'p', long = "project", env = "CORRAL_PROJECT")]
    pub project: Option<String>,
}

/// Like [`Target`], for `logs`, whose `-f` means follow.
#[derive(Debug, Clone, clap::Args)]
pub struct LogsTarget {
    /// The process set (see `corral up --help`).
    #[arg(long = "config")]
    pub config: Vec<PathBuf>,
    /// The project's name (see `corral ps --help`).
    #[arg(short = 'p', long = "project", env = "CORRAL_PROJECT")]
    pub project: Option<String>,
}

/// How a config's environment is read (see discover.rs).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LoadFlags {
    /// A dotenv file whose variables fill in the environment and `$VAR` expansion
    /// (repeatable). Default: .env for process-compose YAML files, none for JSON.
    #[arg(short = 'e', long = "env", value_name = "FILE")]
    pub env: Vec<PathBuf>,
    /// Do not read .env (or the --env files).
    #[arg(long, env = "PC_DISABLE_DOTENV", value_parser = clap::builder::BoolishValueParser::new())]
    pub disable_dotenv: bool,
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
        target: Target,
        #[command(flatten)]
        load: LoadFlags,
        /// Run only the processes of this namespace (repeatable), with their dependencies.
        #[arg(short = 'n', long = "namespace", env = "PC_NAMESPACES", value_delimiter = ',')]
        namespaces: Vec<String>,
        /// Do not start the dependencies of the selected processes.
        #[arg(long)]
        no_deps: bool,
        /// Colour the process labels: auto = on a terminal unless NO_COLOR is set.
        #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
        color: ColorChoice,
        /// Run in the background; return once it is running (`corral down` stops it).
        #[arg(short = 'd', long)]
        detach: bool,
        /// Keep the project running after every process has ended, until `corral down`
        /// (process-compose's --keep-project).
        #[arg(long, env = "CORRAL_KEEP_PROJECT", value_parser = clap::builder::BoolishValueParser::new())]
        keep_project: bool,
        /// Open the dashboard; quitting it stops the run (after a confirmation). Without a
        /// terminal on stdout, plain output instead (with a note). `-t=false` / `--tui=false`
        /// (as process-compose users write it): plain output, corral's default.
        #[arg(short = 't', long, conflicts_with = "detach", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
        tui: bool,
        /// With --detach: return once every process is ready; non-zero if one failed.
        #[arg(long, requires = "detach")]
        wait: bool,
        /// With --wait: give up after this many seconds.
        #[arg(long, requires = "wait")]
        timeout: Option<f64>,
        /// Processes to run; their dependencies come along. Default: every enabled process.
        names: Vec<String>,
    },
    /// Stop a running project in order; returns when everything has stopped.
    Down {
        #[command(flatten)]
        target: Target,
    },
    /// Run NAME in the foreground on a terminal with your keyboard, its dependencies in the
    /// background; the run ends when NAME does, with its exit status.
    Run {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        load: LoadFlags,
        /// Start NAME alone, without its dependencies.
        #[arg(long)]
        no_deps: bool,
        name: String,
    },
    /// Show every process: state, pid, uptime, restarts, last exit, readiness, status.
    Ps {
        #[command(flatten)]
        target: Target,
        /// One JSON array, as the control socket gives it.
        #[arg(long)]
        json: bool,
    },
    /// Show recent output (all processes, or the named ones).
    Logs {
        #[command(flatten)]
        target: LogsTarget,
        /// Keep printing new output until interrupted.
        #[arg(short = 'f', long)]
        follow: bool,
        /// How many recent lines.
        #[arg(short = 'n', long, default_value_t = 100)]
        lines: usize,
        names: Vec<String>,
    },
    /// Start processes (and, first, what they depend on that is not running).
    Start {
        #[command(flatten)]
        target: Target,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Stop processes (and, first, what depends on them); they stay stopped until started.
    Stop {
        #[command(flatten)]
        target: Target,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Stop processes and start them again.
    Restart {
        #[command(flatten)]
        target: Target,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Run N replicas of a process: adds replicas NAME-k, or stops the highest-numbered ones.
    Scale {
        #[command(flatten)]
        target: Target,
        /// The process as written (`api` for `api-0`, `api-1` …).
        name: String,
        /// How many replicas (1 to 1000).
        replicas: u32,
    },
    /// Wait until every process is ready (or has completed); non-zero on failure or timeout.
    Wait {
        #[command(flatten)]
        target: Target,
        /// Give up after this many seconds.
        #[arg(long)]
        timeout: Option<f64>,
    },
    /// Follow a running project's output and state changes.
    Attach {
        #[command(flatten)]
        target: Target,
        /// An is_tty process: its terminal gets your keyboard (Ctrl-] detaches).
        name: Option<String>,
    },
    /// Open the dashboard of a running project: every process, its state and logs, and
    /// keys to act on them. Quitting leaves the project running.
    Tui {
        #[command(flatten)]
        target: Target,
    },
    /// process-compose's spelling of the client commands: `corral process list` is
    /// `corral ps`, `corral process logs` is `corral logs`, and so on.
    Process {
        #[command(subcommand)]
        command: ProcessCommand,
    },
    /// Validate a config and explain every problem (exit 2 if it cannot be run).
    Check {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        load: LoadFlags,
    },
    /// Print the JSON Schema of the config format.
    Schema,
    Export(crate::export::ExportArgs),
    /// Print a shell completion script (e.g. `corral completions bash > /etc/bash_completion.d/corral`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `corral manpage > corral.1`.
    Manpage {
        /// Instead, write corral.1 and a page per subcommand (corral-up.1 …) into this directory.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    #[command(name = "__env", hide = true)]
    Env,
}

/// `corral process …`: aliases of the client commands, as process-compose names them.
#[derive(Debug, Subcommand)]
pub enum ProcessCommand {
    /// `corral ps`: every process and its state.
    #[command(alias = "ls")]
    List {
        #[command(flatten)]
        target: Target,
        /// One JSON array, as the control socket gives it.
        #[arg(long)]
        json: bool,
    },
    /// `corral logs`: recent output.
    Logs {
        #[command(flatten)]
        target: LogsTarget,
        /// Keep printing new output until interrupted.
        #[arg(short = 'f', long)]
        follow: bool,
        /// How many recent lines.
        #[arg(short = 'n', long, default_value_t = 100)]
        lines: usize,
        names: Vec<String>,
    },
    /// `corral start`.
    Start {
        #[command(flatten)]
        target: Target,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// `corral stop`.
    Stop {
        #[command(flatten)]
        target: Target,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// `corral restart`.
    Restart {
        #[command(flatten)]
        target: Target,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// `corral scale`.
    Scale {
        #[command(flatten)]
        target: Target,
        /// The process as written (`api` for `api-0`, `api-1` …).
        name: String,
        /// How many replicas (1 to 1000).
        replicas: u32,
    },
}

impl ProcessCommand {
    /// The command this alias stands for.
    pub fn into_command(self) -> Command {
        match self {
            ProcessCommand::List { target, json } => Command::Ps { target, json },
            ProcessCommand::Logs { target, follow, lines, names } => Command::Logs { target, follow, lines, names },
            ProcessCommand::Start { target, names } => Command::Start { target, names },
            ProcessCommand::Stop { target, names } => Command::Stop { target, names },
            ProcessCommand::Restart { target, names } => Command::Restart { target, names },
            ProcessCommand::Scale { target, name, replicas } => Command::Scale { target, name, replicas },
        }
    }
}
