//! The stop sequence of one run: `shutdown.command` or `shutdown.signal` (or
//! the watchdog's signal), then SIGKILL to the whole group at the deadline, or
//! at once if the shutdown command fails. During a stop, a run counts as ended
//! only when its whole group is gone.
//!
//! Signals reach the process itself as well as its group: a leader that left
//! the group corral created (`setpgid` into another) would otherwise never hear
//! them. And every wait after a SIGKILL has a deadline ([`KILL_BOUND`]): a
//! process that survives it is given up on (and left to the final sweep)
//! rather than holding the run open forever.

use std::time::Duration;

use nix::sys::signal::Signal;
use crate::platform::spawn::Child;
use tokio::time::Instant;

use super::ActorContext;
use crate::env::Env;
pub(super) use crate::time::sleep_until;
use crate::hooks::exit_status_of;
use crate::output::{forward, SourceId};
use crate::plan::{ProcessSpec, Program};
use crate::registry::{group_exists, signal_group, signal_leader_and_group, signal_pid};
use crate::state::ExitKind;

/// How long to wait for a process after SIGKILL before giving up on it.
pub(super) const KILL_BOUND: Duration = Duration::from_secs(5);
use crate::spawn::{command, launch};

/// A stop in progress.
pub(super) struct Stopping {
    pub(super) deadline: Instant,
    /// The running shutdown command, if the process has one.
    pub(super) command: Option<(Child, i32)>,
    pub(super) killed: bool,
}

pub(super) fn begin_stop(spec: &ProcessSpec, env: &Env, ctx: &ActorContext, source: SourceId, pid: i32) -> Stopping {
    let deadline = Instant::now() + spec.stop.timeout;
    let mut stopping = Stopping { deadline, command: None, killed: false };
    if let Some(text) = &spec.stop.command {
        tracing::info!("{}: stopping (running its shutdown command)", spec.name);
        let program = Program::Shell { shell: ctx.shell.0.clone(), argument: ctx.shell.1.clone(), text: text.clone() };
        match launch(&ctx.registry, command(&program, &spec.working_dir, env), &ctx.shell.0, &spec.working_dir) {
            Ok(l) => {
                tokio::spawn(forward(l.output, source, ctx.sink.clone()));
                stopping.command = Some((l.child, l.pid));
            }
            Err(e) => {
                tracing::warn!("{}: shutdown command could not start ({e}); killing its process group", spec.name);
                let mut slot = Some(stopping);
                kill_now(spec, pid, &mut slot);
                return slot.expect("kill_now keeps the stop");
            }
        }
    } else {
        tracing::info!("{}: stopping (sending {} to its {})", spec.name, spec.stop.signal, if spec.stop.parent_only { "process" } else { "process group" });
        let sig = Signal::try_from(spec.stop.signal.number()).unwrap_or(Signal::SIGTERM);
        if spec.stop.parent_only {
            signal_pid(pid, sig);
        } else {
            signal_leader_and_group(pid, sig);
        }
    }
    stopping
}

/// The watchdog expired: its signal (default SIGABRT) to the process, then SIGKILL
/// to the group after the stop timeout if it is still there.
pub(super) fn begin_abort(spec: &ProcessSpec, pid: i32) -> Stopping {
    let sig = spec.watchdog.as_ref().map(|w| w.signal).unwrap_or_else(|| corral_config::Signal::from_number(6).expect("SIGABRT"));
    tracing::warn!("{}: watchdog expired; sending {sig}", spec.name);
    signal_pid(pid, Signal::try_from(sig.number()).unwrap_or(Signal::SIGABRT));
    Stopping { deadline: Instant::now() + spec.stop.timeout, command: None, killed: false }
}

/// SIGKILL to the process, its group and the shutdown command's group; the
/// wait for its exit is bounded from now on.
pub(super) fn kill_now(spec: &ProcessSpec, pid: i32, stopping: &mut Option<Stopping>) {
    tracing::debug!("{}: SIGKILL to process group {pid}", spec.name);
    signal_leader_and_group(pid, Signal::SIGKILL);
    killed(stopping);
}

/// After SIGKILL went to the process: the stop is a kill now, its wait bounded
/// by [`KILL_BOUND`] from the first kill, and the shutdown command's group goes too.
pub(super) fn killed(stopping: &mut Option<Stopping>) {
    let s = stopping.get_or_insert_with(|| Stopping { deadline: Instant::now(), command: None, killed: false });
    if !s.killed {
        s.killed = true;
        s.deadline = Instant::now() + KILL_BOUND;
    }
    if let Some((_, cpid)) = &s.command {
        signal_group(*cpid, Signal::SIGKILL);
    }
}

/// The stop's deadline passed: SIGKILL if not sent yet; if it was, the process
/// survived it for [`KILL_BOUND`]: give up waiting (the final sweep tries
/// again) and report it as killed.
pub(super) fn deadline_passed(spec: &ProcessSpec, ctx: &ActorContext, pid: i32, stopping: &mut Option<Stopping>) -> Option<ExitKind> {
    if stopping.as_ref().is_some_and(|s| s.killed) {
        tracing::error!("{}: still there {KILL_BOUND:?} after SIGKILL; giving up on it", spec.name);
        // Released: the final sweep now treats it as an orphan of corral's.
        ctx.registry.release(pid);
        return Some(ExitKind::Signal(Signal::SIGKILL as i32));
    }
    tracing::warn!("{}: still running {:?} after it was asked to stop; sending SIGKILL to its process group", spec.name, spec.stop.timeout);
    kill_now(spec, pid, stopping);
    None
}

/// After the leader exited during a stop: wait until the rest of its group is
/// gone, SIGKILLing it at the deadline; reap the shutdown command.
pub(super) async fn finish_stop(spec: &ProcessSpec, ctx: &ActorContext, pid: i32, mut s: Stopping) {
    loop {
        ctx.registry.reap_orphans();
        if !group_exists(pid) {
            break;
        }
        if Instant::now() >= s.deadline && !s.killed {
            tracing::warn!("{}: processes of its group outlived it by {:?}; sending SIGKILL", spec.name, spec.stop.timeout);
            // The leader is reaped: its pid may be reused, so only the group is signalled.
            signal_group(pid, Signal::SIGKILL);
            if let Some((_, cpid)) = &s.command {
                signal_group(*cpid, Signal::SIGKILL);
            }
            s.killed = true;
            s.deadline = Instant::now() + KILL_BOUND;
        }
        if s.killed && Instant::now() >= s.deadline {
            tracing::error!("{}: its process group survives SIGKILL; giving up on it", spec.name);
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    if let Some((mut cmd, cpid)) = s.command.take() {
        // The process is gone; a shutdown command still running has no purpose left.
        if !matches!(cmd.try_wait(), Ok(Some(_))) {
            signal_group(cpid, Signal::SIGKILL);
            let _ = cmd.wait().await;
        }
        ctx.registry.release(cpid);
    }
}

pub(super) async fn wait_command(stopping: &mut Option<Stopping>) -> i32 {
    match stopping.as_mut().and_then(|s| s.command.as_mut()) {
        Some((child, _)) => child.wait().await.map(exit_status_of).unwrap_or(1),
        None => std::future::pending().await,
    }
}

/// Before a restart: stops what is left of the previous run's process group
/// (a background job, a grandchild that kept running) with the stop's
/// escalation: `shutdown.signal` to the group, SIGKILL after
/// `shutdown.timeout_seconds`, then a bounded wait. Without this, every
/// restart of a process that leaves something behind would add one more.
pub(super) async fn clear_leftovers(spec: &ProcessSpec, ctx: &ActorContext, group: i32) {
    ctx.registry.reap_orphans();
    if !group_exists(group) {
        return;
    }
    tracing::info!("{}: stopping what is left of its previous run (process group {group}) before starting it again", spec.name);
    let sig = Signal::try_from(spec.stop.signal.number()).unwrap_or(Signal::SIGTERM);
    signal_group(group, sig);
    let mut deadline = Instant::now() + spec.stop.timeout;
    let mut killed = false;
    loop {
        ctx.registry.reap_orphans();
        if !group_exists(group) {
            return;
        }
        if Instant::now() >= deadline {
            if killed {
                tracing::error!("{}: leftovers of its previous run survive SIGKILL; starting it anyway", spec.name);
                return;
            }
            tracing::warn!("{}: leftovers of its previous run still there after {:?}; sending SIGKILL", spec.name, spec.stop.timeout);
            signal_group(group, Signal::SIGKILL);
            killed = true;
            deadline = Instant::now() + KILL_BOUND;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
