//! pre_hook and post_hook.
//!
//! The pre_hook must be able to `export` variables for every process and to set
//! a `trap … EXIT` that fires when the whole run ends. Both live in the state of
//! one shell, so the pre_hook shell stays alive for the whole run:
//!
//! ```sh
//! set -e; eval "$hook" 3>&- 4>&-     # the user's text, in this very shell
//! set +e; "$corral" __env >&3        # its exported environment, NUL-separated, to fd 3
//! exec 3>&-; read -r s <&4           # wait for corral to say the run is over
//! exit "${s:-0}"                     # ... and the EXIT trap runs, with $? = the run's status
//! ```
//!
//! fd 3 and 4 are pipes to corral, hidden from the hook's own commands so a
//! background job cannot hold them open. If corral dies, fd 4 reaches end of
//! file, the shell exits and the trap still runs. The text is `eval`ed, never
//! pasted into the script, so nothing in it is expanded or re-quoted by corral.
//! The shell must be POSIX-compatible (bash, dash, zsh in sh mode).
//!
//! The user's text may end in `exec prog`: then `prog` replaces the shell
//! without fd 3 and 4, the report pipe ends empty, and corral waits for
//! `prog` as for a shell that stopped reporting (its exit status decides;
//! a stop meanwhile is a stop, not a failure).
//!
//! Every phase of a hook waits through [`stop::supervise`], the one place
//! where a hook meets the run's inbox of stop signals and control requests
//! (`ps` answers throughout): a stop sends SIGTERM to the hook's group (and
//! to the shell itself, should it have left the group), SIGKILL follows after
//! [`HOOK_STOP_TIMEOUT`], and the run's second stop signal kills at once
//! (exit status 130). A hook stopped by the run's first signal or a `down`
//! does not change the exit status: a stopped run exits 0. Every wait after
//! a SIGKILL has a deadline.

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use crate::platform::spawn::Stdio;
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use crate::platform::spawn::Child;

use crate::env::{Env, EnvChanges};
use crate::output::{forward, SinkHandle, SourceId};
use crate::platform::process_group::signal_group;
use crate::registry::Registry;
use crate::signals::StopSignals;
use stop::{supervise, Ended, HookShell, KILL_BOUND};
use crate::spawn::{output_pipe, place_fds};

mod stop;
pub use stop::HOOK_STOP_TIMEOUT;

/// The hidden subcommand that prints the environment, NUL-separated.
pub const ENV_SUBCOMMAND: &str = "__env";

const PRE_HOOK_SCRIPT: &str = r#"__corral_hook=$1; __corral_exe=$2; shift 2
set -e
eval "$__corral_hook" 3>&- 4>&-
set +e
"$__corral_exe" __env >&3
exec 3>&-
read -r __corral_status <&4
exit "${__corral_status:-0}""#;

/// Largest environment accepted from a hook.
const MAX_ENV_DUMP: u64 = 16 * 1024 * 1024;

/// How long the pre_hook's EXIT trap may run at the end before its group is killed.
const TRAP_BOUND: Duration = Duration::from_secs(60);


/// The exit status of a run ended by a second stop signal.
const FORCED_STATUS: i32 = 130;

/// Where hooks run and where their output goes.
pub struct HookContext<'a> {
    pub registry: &'a Registry,
    pub sink: SinkHandle,
    pub shell: (String, String),
    pub root: &'a Path,
    pub self_exe: &'a Path,
}

/// The pre_hook shell, alive for the whole run.
pub struct PreHook {
    child: Child,
    pid: i32,
    control: Option<std::fs::File>,
}

/// The pre_hook failed: nothing may start, and corral exits with `status`.
#[derive(Debug)]
pub struct HookFailed {
    pub status: i32,
}

impl PreHook {
    /// Runs `text` and waits until it has finished and reported its exports.
    /// A stop signal meanwhile terminates the hook (its trap still runs).
    pub async fn start(
        ctx: &HookContext<'_>,
        source: SourceId,
        text: &str,
        env: &Env,
        signals: &mut StopSignals,
    ) -> Result<(PreHook, EnvChanges), (Option<PreHook>, HookFailed)> {
        let fail = |status| (None, HookFailed { status });
        let pipes = (|| Ok::<_, std::io::Error>((output_pipe()?, output_pipe()?, output_pipe()?)))();
        let pipes = pipes.and_then(|(out, env, ctl)| Ok((out.1.try_clone()?, out, env, ctl)));
        let Ok((out_dup, (out_r, out_w), (env_r, env_w), (ctl_r, ctl_w))) = pipes else {
            tracing::error!("pre_hook: cannot create pipes");
            return Err(fail(1));
        };
        let mut cmd = crate::platform::spawn::Command::new(&ctx.shell.0);
        cmd.arg(&ctx.shell.1)
            .arg(PRE_HOOK_SCRIPT)
            .arg("pre_hook")
            .arg(text)
            .arg(ctx.self_exe)
            .current_dir(ctx.root)
            .env_clear()
            .envs(env.iter())
            .stdin(Stdio::null())
            .stdout(Stdio::from(out_dup))
            .stderr(Stdio::from(out_w));
        place_fds(&mut cmd, vec![env_w.as_raw_fd(), ctl_r.as_raw_fd()]);
        let (child, pid) = match ctx.registry.spawn(cmd) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("pre_hook: cannot run {}: {e}", ctx.shell.0);
                return Err(fail(127));
            }
        };
        drop((env_w, ctl_r));
        ctx.registry.note_hook_group(pid);
        tracing::info!("pre_hook: started (pid {pid})");
        spawn_forwarder(out_r, source, ctx.sink.clone());
        let mut hook = PreHook { child, pid, control: Some(std::fs::File::from(ctl_w)) };

        let mut dump = Vec::new();
        let mut env_pipe = match pipe::Receiver::from_owned_fd(env_r) {
            Ok(p) => p.take(MAX_ENV_DUMP),
            Err(e) => {
                tracing::error!("pre_hook: {e}");
                hook.kill();
                return Err((Some(hook), HookFailed { status: 1 }));
            }
        };
        let read = async {
            if let Err(e) = env_pipe.read_to_end(&mut dump).await {
                tracing::warn!("pre_hook: reading its environment: {e}");
            }
        };
        // The shell's exit is not an end here: its report is read to the end first.
        let shell = HookShell { child: &mut hook.child, pid, name: "pre_hook" };
        if let Ended::Stopped { status, forced } = supervise(shell, signals, read, false).await {
            return Err(hook.stopped(ctx.registry, status, forced));
        }
        if !dump.is_empty() {
            let changes = EnvChanges::between(env, &EnvChanges::parse_dump(&dump));
            tracing::info!("pre_hook: done ({} variable(s) exported, {} unset)", changes.set.len(), changes.unset.len());
            return Ok((hook, changes));
        }
        // The shell stopped reporting without a word: it failed or exited, or
        // it `exec`ed a program that replaced it (the program keeps running
        // without the control pipes). Wait for it; a stop meanwhile is a stop.
        if let Ok(None) = hook.child.try_wait() {
            tracing::debug!("pre_hook: its shell closed its report pipe without reporting (an `exec`?); waiting for it to end");
        }
        let shell = HookShell { child: &mut hook.child, pid, name: "pre_hook" };
        let status = match supervise(shell, signals, std::future::pending::<()>(), true).await {
            Ended::Stopped { status, forced } => return Err(hook.stopped(ctx.registry, status, forced)),
            Ended::Exited(status) => {
                if status.is_some() {
                    ctx.registry.release(pid);
                }
                status.unwrap_or(1)
            }
            Ended::Done(()) => unreachable!("pending work never finishes"),
        };
        match status {
            0 => {
                tracing::warn!("pre_hook: exited with status 0 before finishing (an explicit `exit`?); its exports and traps are lost");
                Ok((hook, EnvChanges::default()))
            }
            s => {
                tracing::error!("pre_hook: failed with status {s}; nothing was started");
                Err((Some(hook), HookFailed { status: s }))
            }
        }
    }

    /// The pre_hook was stopped before it finished: nothing starts, and the
    /// run exits as a stopped run does (0), or 130 after a forced stop.
    fn stopped(mut self, registry: &Registry, status: Option<i32>, forced: bool) -> (Option<PreHook>, HookFailed) {
        if status.is_some() {
            registry.release(self.pid);
        }
        tracing::info!("pre_hook: stopped ({})", status.map_or("still there".to_string(), |s| s.to_string()));
        // The pre_hook shell is gone: there is no EXIT trap left to run at the end.
        self.control = None;
        (Some(self), HookFailed { status: if forced { FORCED_STATUS } else { 0 } })
    }

    fn kill(&self) {
        signal_group(self.pid, Signal::SIGKILL);
    }

    /// Ends the run for the hook shell: it exits with `status`, running its EXIT
    /// trap. Waits for it (a stop signal or the bound kills its group).
    pub async fn finish(mut self, registry: &Registry, status: i32, signals: &mut StopSignals) {
        if let Some(mut ctl) = self.control.take() {
            let _ = writeln!(ctl, "{status}");
        }
        if let Ok(Some(_)) = self.child.try_wait() {
            registry.release(self.pid);
            return;
        }
        let shell = HookShell { child: &mut self.child, pid: self.pid, name: "the pre_hook's EXIT trap" };
        let done = match supervise(shell, signals, tokio::time::sleep(TRAP_BOUND), true).await {
            Ended::Done(()) => {
                tracing::warn!("pre_hook: its EXIT trap is still running after {TRAP_BOUND:?}; killing it");
                self.kill();
                wait_bounded(&mut self.child, "pre_hook").await
            }
            Ended::Exited(status) | Ended::Stopped { status, .. } => status.is_some(),
        };
        if done {
            registry.release(self.pid);
        }
    }
}

/// Runs the post_hook to the end; returns its status. A stop signal kills it.
pub async fn run_post_hook(ctx: &HookContext<'_>, source: SourceId, text: &str, env: &Env, signals: &mut StopSignals) -> i32 {
    let program = crate::plan::Program::Shell { shell: ctx.shell.0.clone(), argument: ctx.shell.1.clone(), text: text.to_string() };
    let cmd = crate::spawn::command(&program, ctx.root, env);
    let mut launched = match crate::spawn::launch(ctx.registry, cmd, &ctx.shell.0, ctx.root) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("post_hook: {e}");
            return 127;
        }
    };
    tracing::info!("post_hook: started (pid {})", launched.pid);
    let reader = tokio::spawn(forward(launched.output, source, ctx.sink.clone()));
    let shell = HookShell { child: &mut launched.child, pid: launched.pid, name: "post_hook" };
    let (status, stopped) = match supervise(shell, signals, std::future::pending::<()>(), true).await {
        Ended::Exited(status) => (Some(status.unwrap_or(1)), None),
        Ended::Stopped { status, forced } => (status, Some(forced)),
        Ended::Done(()) => unreachable!("pending work never finishes"),
    };
    if status.is_some() {
        ctx.registry.release(launched.pid);
    }
    let _ = tokio::time::timeout(Duration::from_millis(500), reader).await;
    let status = status.unwrap_or(1);
    if let Some(forced) = stopped {
        // Stopped by a signal: the run exits as a stopped run does (0), or 130 after a second signal.
        tracing::info!("post_hook: stopped ({status})");
        return if forced { FORCED_STATUS } else { 0 };
    }
    if status == 0 {
        tracing::info!("post_hook: done");
    } else {
        tracing::error!("post_hook: failed with status {status}");
    }
    status
}

/// Waits for `child` after it was SIGKILLed, for at most [`KILL_BOUND`]. Whether it was reaped.
async fn wait_bounded(child: &mut Child, name: &str) -> bool {
    match tokio::time::timeout(KILL_BOUND, child.wait()).await {
        Ok(r) => r.is_ok(),
        Err(_) => {
            tracing::error!("{name}: survives SIGKILL after {KILL_BOUND:?}; giving up on it");
            false
        }
    }
}

fn spawn_forwarder(read: OwnedFd, source: SourceId, sink: SinkHandle) {
    match pipe::Receiver::from_owned_fd(read) {
        Ok(rx) => {
            tokio::spawn(forward(rx, source, sink));
        }
        Err(e) => tracing::warn!("cannot read hook output: {e}"),
    }
}

/// The shell convention for a wait status.
pub fn exit_status_of(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}
