//! `is_daemon`: the command forks a daemon and exits. process-compose then
//! shows the process as "launched" until it is stopped (with its
//! `shutdown.command`) or its liveness probe fails; it never looks at the
//! daemon itself. corral follows the daemon: once the launcher has exited with
//! a success code, the process is the daemon, found as
//!
//! - the live members of the launcher's process group, and
//! - the live processes that carry this run's `CORRAL_RUN_ID` and this
//!   process's `CORRAL_PROCESS_NAME` in their environment and are not in a
//!   group corral created for something else (a probe, a shutdown command).
//!   A daemon that `setsid`s and double-forks leaves the group but keeps the
//!   environment it inherited; corral is its subreaper, so it stays reapable;
//! - the orphans re-parented to corral when the launcher exited that started
//!   after the launcher, are in no group corral created, and do not name
//!   another process in `CORRAL_PROCESS_NAME`: this finds daemons that rewrite
//!   their environment area for their process title (redis-server does). Each
//!   is adopted (by pid and start time) by the first daemon process that looks;
//!   two such daemons launched at the same moment could be mixed up.
//!
//! The process stays running (and ready, by its checks) while any of them
//! lives; when none is left unasked, the daemon died: reported as an exit with
//! code 1 (its own status is not corral's to collect), so the restart policy
//! applies. Stopping it runs `shutdown.command`, or sends `shutdown.signal` to
//! every member and its group; SIGKILL after `shutdown.timeout_seconds`, as for
//! any process. The final sweep and the run's cgroup remain the backstop.

use std::sync::Mutex;
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::time::Instant;

use super::stop::{begin_stop, killed, wait_command, Stopping};
use super::{ActorCommand, ActorContext};
use crate::env::{Env, PROCESS_NAME_VAR, RUN_ID_VAR};
use crate::output::SourceId;
use crate::plan::ProcessSpec;
use crate::platform::procfs;
use crate::registry::{signal_group, signal_pid};
use crate::state::ExitKind;

/// How often corral looks whether the daemon still lives.
const POLL: Duration = Duration::from_millis(100);

/// The exit reported when the daemon ends on its own.
pub(super) const DAEMON_DIED: ExitKind = ExitKind::Code(1);

/// Orphans adopted as some process's daemon (pid, start time), in this corral.
static ADOPTED: Mutex<Vec<(i32, u64)>> = Mutex::new(Vec::new());

/// How to find the processes of one daemon.
pub(super) struct Daemon {
    group: i32,
    markers: Vec<String>,
    /// Orphans without corral's variables adopted as this daemon (pid, start time).
    adopted: Vec<(i32, u64)>,
}

impl Daemon {
    /// `since`: when the launcher started (clock ticks after boot).
    pub(super) fn new(env: &Env, group: i32, since: Option<u64>, ctx: &ActorContext) -> Daemon {
        let markers: Vec<String> = [RUN_ID_VAR, PROCESS_NAME_VAR]
            .iter()
            .filter_map(|k| env.get(k).map(|v| format!("{k}={}", v.to_string_lossy())))
            .collect();
        let mut adopted = Vec::new();
        if let Some(since) = since {
            let mut all = ADOPTED.lock().unwrap();
            all.retain(|(p, start)| procfs::stat(*p).is_some_and(|s| s.start == *start && s.state != 'Z'));
            for p in procfs::children_of_self() {
                let Some(st) = procfs::stat(p) else { continue };
                // Still in this run's group is this daemon before its setsid (redis
                // forks, its parent exits, then the child calls setsid): adopt it.
                let others_group = st.pgid != group && ctx.registry.created_group(st.pgid);
                if st.state == 'Z' || st.start < since || ctx.registry.owns(p) || others_group || all.iter().any(|(a, _)| *a == p) {
                    continue;
                }
                // Another process's daemon, by what is left of its environment.
                if procfs::env_var(p, PROCESS_NAME_VAR).is_some_and(|n| Some(std::ffi::OsStr::new(&n)) != env.get(PROCESS_NAME_VAR).map(|v| v.as_os_str())) {
                    continue;
                }
                all.push((p, st.start));
                adopted.push((p, st.start));
            }
        }
        Daemon { group, markers: if markers.len() == 2 { markers } else { Vec::new() }, adopted }
    }

    /// The daemon's live processes now.
    pub(super) fn members(&self, ctx: &ActorContext) -> Vec<i32> {
        let me = std::process::id() as i32;
        let mut pids = procfs::live_group_members(self.group);
        for &(p, start) in &self.adopted {
            if !pids.contains(&p) && procfs::stat(p).is_some_and(|s| s.start == start && s.state != 'Z' && s.state != 'X') {
                pids.push(p);
            }
        }
        if !self.markers.is_empty() {
            for p in procfs::pids_with_env_all(&self.markers) {
                if p == me || pids.contains(&p) {
                    continue;
                }
                let Some(st) = procfs::stat(p) else { continue };
                if st.pgid != self.group && ctx.registry.created_group(st.pgid) {
                    continue;
                }
                pids.push(p);
            }
        }
        pids
    }
}

/// Sends `sig` to every member and to the group each leads or lives in (never corral's own).
fn signal_members(pids: &[i32], sig: Signal) {
    let own = crate::platform::process_group::own_group();
    for &p in pids {
        signal_pid(p, sig);
        if let Some(st) = procfs::stat(p) {
            if st.pgid != own && st.pgid > 1 {
                signal_group(st.pgid, sig);
            }
        }
    }
}

/// Follows the daemon launched by the run whose group is `group` until it ends
/// (reported as [`DAEMON_DIED`]) or is stopped on request (reported as
/// `launched`, the launcher's own successful exit). `stop_now`: a stop arrived
/// while the launcher still ran.
#[allow(clippy::too_many_arguments)]
pub(super) async fn follow(
    spec: &ProcessSpec,
    env: &Env,
    ctx: &ActorContext,
    index: usize,
    source: SourceId,
    group: i32,
    since: Option<u64>,
    launched: ExitKind,
    stop_now: bool,
    cmds: &mut super::mailbox::Receiver,
    probes: &mut super::Probes,
) -> ExitKind {
    ctx.registry.reap_orphans();
    let daemon = Daemon::new(env, group, since, ctx);
    let first = daemon.members(ctx);
    if first.is_empty() && !stop_now {
        tracing::warn!("{}: its command exited without leaving a daemon running", spec.name);
        return DAEMON_DIED;
    }
    tracing::info!("{}: its command exited; following its daemon (pid {})", spec.name, first.iter().map(i32::to_string).collect::<Vec<_>>().join(", "));
    if let Some(&main) = first.iter().min_by_key(|p| procfs::stat(**p).map_or(u64::MAX, |s| s.start)) {
        let _ = ctx.events.send((index, super::Event::DaemonPid(main)));
    }
    let mut stopping: Option<Stopping> = None;
    let mut commands_open = true;
    let start_stop = |stopping: &mut Option<Stopping>, probes: &mut super::Probes| {
        probes.stop();
        if spec.stop.command.is_some() {
            *stopping = Some(begin_stop(spec, env, ctx, source, group));
        } else {
            tracing::info!("{}: stopping its daemon (sending {})", spec.name, spec.stop.signal);
            let sig = Signal::try_from(spec.stop.signal.number()).unwrap_or(Signal::SIGTERM);
            signal_members(&daemon.members(ctx), sig);
            *stopping = Some(Stopping { deadline: Instant::now() + spec.stop.timeout, command: None, killed: false });
        }
    };
    if stop_now {
        start_stop(&mut stopping, probes);
    }
    loop {
        ctx.registry.reap_orphans();
        let members = daemon.members(ctx);
        if members.is_empty() {
            if let Some(mut s) = stopping.take() {
                if let Some((mut cmd, cpid)) = s.command.take() {
                    if !matches!(cmd.try_wait(), Ok(Some(_))) {
                        signal_group(cpid, Signal::SIGKILL);
                        let _ = cmd.wait().await;
                    }
                    ctx.registry.release(cpid);
                }
                return launched;
            }
            tracing::warn!("{}: its daemon is gone", spec.name);
            return DAEMON_DIED;
        }
        let has_command = stopping.as_ref().is_some_and(|s| s.command.is_some());
        tokio::select! {
            cmd = cmds.recv(), if commands_open => match cmd {
                Some(ActorCommand::Stop) | Some(ActorCommand::Abort) if stopping.is_none() => start_stop(&mut stopping, probes),
                Some(ActorCommand::Kill) | None => {
                    commands_open = cmd.is_some();
                    kill(&members, &mut stopping);
                }
                Some(_) => {}
            },
            status = wait_command(&mut stopping), if has_command => {
                let s = stopping.as_mut().expect("guarded by has_command");
                let (_, cpid) = s.command.take().expect("guarded by has_command");
                ctx.registry.release(cpid);
                if status != 0 {
                    tracing::warn!("{}: shutdown command failed with status {status}; killing its daemon", spec.name);
                    kill(&members, &mut stopping);
                }
            }
            _ = tokio::time::sleep(POLL) => {
                let Some(s) = stopping.as_mut() else { continue };
                if Instant::now() < s.deadline {
                    continue;
                }
                if s.killed {
                    tracing::error!("{}: its daemon survives SIGKILL; giving up on it", spec.name);
                    return ExitKind::Signal(Signal::SIGKILL as i32);
                }
                tracing::warn!("{}: its daemon still runs {:?} after it was asked to stop; sending SIGKILL", spec.name, spec.stop.timeout);
                kill(&members, &mut stopping);
            }
        }
    }
}

fn kill(members: &[i32], stopping: &mut Option<Stopping>) {
    signal_members(members, Signal::SIGKILL);
    killed(stopping);
}
