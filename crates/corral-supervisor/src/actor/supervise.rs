//! Supervising one run: waiting for its exit status while reacting to the
//! dispatcher's commands, the stop sequence's deadlines, and readiness and
//! watchdog signals from the process. Returns the exit and whether it was
//! stopped on request (a daemon's launcher stopped early takes its daemon along).

use crate::platform::spawn::Child;

use super::stop::{begin_abort, begin_stop, deadline_passed, finish_stop, kill_now, sleep_until, wait_command, Stopping};
use super::notify_watchdog::{NotifyWatch, WatchEvent};
use super::{ActorCommand, Event, ActorContext, Probes};
use crate::env::Env;
use crate::output::SourceId;
use crate::plan::ProcessSpec;
use crate::state::ExitKind;

#[allow(clippy::too_many_arguments)]
pub(super) async fn supervise(
    spec: &ProcessSpec,
    env: &Env,
    ctx: &ActorContext,
    index: usize,
    source: SourceId,
    mut child: Child,
    pid: i32,
    cmds: &mut super::mailbox::Receiver,
    probes: &mut Probes,
    watch: &mut NotifyWatch<'_>,
) -> (ExitKind, bool) {
    let mut stopping: Option<Stopping> = None;
    let mut commands_open = true;
    loop {
        // Before SIGKILL: when to send it; after: how long to wait for the exit.
        let deadline = stopping.as_ref().map(|s| s.deadline);
        let has_command = stopping.as_ref().is_some_and(|s| s.command.is_some());
        tokio::select! {
            status = child.wait() => {
                ctx.registry.release(pid);
                let exit = match status {
                    Ok(s) => exit_kind(s),
                    Err(e) => {
                        tracing::error!("{}: lost track of the process: {e}", spec.name);
                        ExitKind::Code(255)
                    }
                };
                let stopped = stopping.is_some();
                if let Some(s) = stopping.take() {
                    Box::pin(finish_stop(spec, ctx, pid, s)).await;
                }
                return (exit, stopped);
            }
            cmd = cmds.recv(), if commands_open => match cmd {
                Some(ActorCommand::Stop) if stopping.is_none() => {
                    probes.stop();
                    watch.disarm();
                    stopping = Some(begin_stop(spec, env, ctx, source, pid));
                }
                Some(ActorCommand::Abort) if stopping.is_none() => {
                    probes.stop();
                    watch.disarm();
                    stopping = Some(begin_abort(spec, pid));
                }
                Some(ActorCommand::Kill) => kill_now(spec, pid, &mut stopping),
                Some(_) => {}
                None => {
                    commands_open = false;
                    kill_now(spec, pid, &mut stopping);
                }
            },
            // Boxed: only a process with a shutdown command has one to wait for.
            status = async { Box::pin(wait_command(&mut stopping)).await }, if has_command => {
                let s = stopping.as_mut().expect("guarded by has_command");
                let (_, cpid) = s.command.take().expect("guarded by has_command");
                ctx.registry.release(cpid);
                if status != 0 {
                    tracing::warn!("{}: shutdown command failed with status {status}; killing its process group", spec.name);
                    kill_now(spec, pid, &mut stopping);
                }
            }
            // Most processes have no sd_notify, readiness fd or watchdog: their
            // watch is idle and its (large) future is never built.
            ev = async { Box::pin(watch.next()).await }, if stopping.is_none() && !watch.is_idle() => {
                let _ = ctx.events.send((index, match ev {
                    WatchEvent::Ready => Event::Ready,
                    WatchEvent::Expired(reason) => Event::WatchdogExpired(reason),
                }));
            }
            // Boxed: a timer is large, and most processes never have a deadline here.
            _ = async { Box::pin(sleep_until(deadline)).await }, if deadline.is_some() => {
                if let Some(exit) = deadline_passed(spec, ctx, pid, &mut stopping) {
                    return (exit, true);
                }
            }
        }
    }
}

pub(super) fn exit_kind(status: std::process::ExitStatus) -> ExitKind {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => ExitKind::Code(c as u8),
        (None, Some(s)) => ExitKind::Signal(s),
        (None, None) => ExitKind::Code(255),
    }
}
