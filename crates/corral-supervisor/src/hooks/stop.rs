//! The one place where a hook's shell meets the run's inbox.
//!
//! Every phase of a hook (the pre_hook until it reports, a pre_hook whose
//! shell stopped reporting, the pre_hook's EXIT trap at the end, the
//! post_hook) waits through [`supervise`]: it takes stop signals and control
//! requests from the run's one [`StopSignals`] (which answers `ps` meanwhile),
//! and carries out a stop with the same escalation as a process's:
//! SIGTERM to the hook's group and to its shell (should it have left the
//! group), SIGKILL after [`HOOK_STOP_TIMEOUT`], SIGKILL at once on the run's
//! second stop signal. A repeated `down` is a stop already under way and
//! changes nothing (as for processes). Every wait after SIGKILL has a deadline.
//!
//! The escalation itself is a pure machine ([`Escalation`]), unit-tested
//! without a process.

use std::future::Future;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use crate::platform::spawn::Child;

use super::exit_status_of;
use crate::platform::process_group::{signal_group, signal_pid};
use crate::signals::{Stop, StopSignals};

/// Between SIGTERM and SIGKILL when a hook is stopped (a process's default `shutdown.timeout_seconds`).
pub const HOOK_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How long to wait for a hook's shell after SIGKILL before giving up on it.
pub(super) const KILL_BOUND: Duration = Duration::from_secs(5);

/// How a supervised hook phase ended.
#[derive(Debug)]
pub(super) enum Ended<T> {
    /// The phase's own work finished first (no stop arrived).
    Done(T),
    /// The shell exited by itself: its shell status (`None` if it could not be collected).
    Exited(Option<i32>),
    /// A stop arrived and the shell was stopped: its status (`None` if it
    /// survived SIGKILL for [`KILL_BOUND`]) and whether the stop was forced.
    Stopped { status: Option<i32>, forced: bool },
}

/// A hook being stopped: what was sent, and when the next step is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Escalation {
    killed: bool,
    forced: bool,
    deadline: Instant,
}

/// What the deadline of an [`Escalation`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// SIGTERM was ignored for [`HOOK_STOP_TIMEOUT`]: send SIGKILL.
    Kill,
    /// SIGKILL was sent [`KILL_BOUND`] ago and the shell is still there.
    GiveUp,
}

impl Escalation {
    /// The first stop for this hook: SIGTERM, or SIGKILL if it is forced
    /// (the run's second stop signal). Returns the machine and the signal to send.
    pub(super) fn begin(forced: bool, now: Instant) -> (Escalation, Signal) {
        let (sig, wait) = if forced { (Signal::SIGKILL, KILL_BOUND) } else { (Signal::SIGTERM, HOOK_STOP_TIMEOUT) };
        (Escalation { killed: forced, forced, deadline: now + wait }, sig)
    }

    /// Another stop while this one is under way: a forced one kills now
    /// (returns SIGKILL); a repeated `down` changes nothing.
    pub(super) fn again(&mut self, forced: bool, now: Instant) -> Option<Signal> {
        if !forced {
            return None;
        }
        self.forced = true;
        if !self.killed {
            self.killed = true;
            self.deadline = now + KILL_BOUND;
        }
        Some(Signal::SIGKILL)
    }

    /// The deadline has passed.
    pub(super) fn expired(&mut self, now: Instant) -> Step {
        if self.killed {
            return Step::GiveUp;
        }
        self.killed = true;
        self.deadline = now + KILL_BOUND;
        Step::Kill
    }

    pub(super) fn deadline(&self) -> Instant {
        self.deadline
    }

    pub(super) fn forced(&self) -> bool {
        self.forced
    }
}

/// The shell of a hook: the leader of process group `pid`.
pub(super) struct HookShell<'a> {
    pub child: &'a mut Child,
    pub pid: i32,
    /// "pre_hook", "post_hook", "the pre_hook's EXIT trap".
    pub name: &'a str,
}

impl HookShell<'_> {
    fn hit(&self, sig: Signal) {
        signal_group(self.pid, sig);
        signal_pid(self.pid, sig);
    }
}

/// Runs one phase of a hook until `work` finishes, the shell exits (only if
/// `exit_ends`: a phase that reads the shell's report must finish reading
/// first), or a stop arrives; a stop is carried out to its end here.
pub(super) async fn supervise<T>(shell: HookShell<'_>, signals: &mut StopSignals, work: impl Future<Output = T>, exit_ends: bool) -> Ended<T> {
    let name = shell.name;
    let mut work = std::pin::pin!(work);
    let mut stopping: Option<Escalation> = None;
    let far = || tokio::time::Instant::now() + Duration::from_secs(86_400 * 365);
    loop {
        let deadline = stopping.as_ref().map_or_else(far, |e| tokio::time::Instant::from_std(e.deadline()));
        let waiting = exit_ends || stopping.is_some();
        tokio::select! {
            t = &mut work, if stopping.is_none() => return Ended::Done(t),
            s = shell.child.wait(), if waiting => {
                let status = s.ok().map(exit_status_of);
                return match stopping {
                    None => Ended::Exited(status),
                    Some(e) => Ended::Stopped { status, forced: e.forced() },
                };
            }
            stop = signals.next() => {
                let Stop { what, forced } = stop;
                match &mut stopping {
                    None => {
                        tracing::info!("received {what}: stopping {name}");
                        let (e, sig) = Escalation::begin(forced, Instant::now());
                        shell.hit(sig);
                        stopping = Some(e);
                    }
                    Some(e) => match e.again(forced, Instant::now()) {
                        Some(sig) => {
                            tracing::warn!("received {what} again: killing {name} now");
                            shell.hit(sig);
                        }
                        None => tracing::info!("received {what}: {name} is already stopping"),
                    },
                }
            }
            _ = tokio::time::sleep_until(deadline), if stopping.is_some() => {
                let e = stopping.as_mut().expect("a deadline only while stopping");
                match e.expired(Instant::now()) {
                    Step::Kill => {
                        tracing::warn!("{name}: still running {HOOK_STOP_TIMEOUT:?} after SIGTERM; sending SIGKILL to its group");
                        shell.hit(Signal::SIGKILL);
                    }
                    Step::GiveUp => {
                        tracing::error!("{name}: survives SIGKILL after {KILL_BOUND:?}; giving up on it");
                        return Ended::Stopped { status: None, forced: e.forced() };
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_stop_sends_sigterm_and_sigkill_follows_after_the_timeout() {
        let t0 = Instant::now();
        let (mut e, sig) = Escalation::begin(false, t0);
        assert_eq!(sig, Signal::SIGTERM);
        assert_eq!(e.deadline(), t0 + HOOK_STOP_TIMEOUT);
        assert!(!e.forced());
        let t1 = t0 + HOOK_STOP_TIMEOUT;
        assert_eq!(e.expired(t1), Step::Kill);
        assert_eq!(e.deadline(), t1 + KILL_BOUND);
        assert_eq!(e.expired(t1 + KILL_BOUND), Step::GiveUp);
        assert!(!e.forced(), "a stop that needed SIGKILL is still not forced");
    }

    #[test]
    fn a_forced_first_stop_kills_at_once() {
        let t0 = Instant::now();
        let (mut e, sig) = Escalation::begin(true, t0);
        assert_eq!(sig, Signal::SIGKILL);
        assert!(e.forced());
        assert_eq!(e.deadline(), t0 + KILL_BOUND);
        assert_eq!(e.expired(t0 + KILL_BOUND), Step::GiveUp);
    }

    #[test]
    fn a_second_signal_kills_now_and_a_repeated_down_changes_nothing() {
        let t0 = Instant::now();
        let (mut e, _) = Escalation::begin(false, t0);
        let before = e.clone();
        assert_eq!(e.again(false, t0 + Duration::from_secs(1)), None);
        assert_eq!(e, before);
        let t2 = t0 + Duration::from_secs(2);
        assert_eq!(e.again(true, t2), Some(Signal::SIGKILL));
        assert!(e.forced());
        assert_eq!(e.deadline(), t2 + KILL_BOUND);
        // Yet another signal: SIGKILL again, the deadline stays.
        assert_eq!(e.again(true, t2 + Duration::from_secs(1)), Some(Signal::SIGKILL));
        assert_eq!(e.deadline(), t2 + KILL_BOUND);
        assert_eq!(e.expired(t2 + KILL_BOUND), Step::GiveUp);
    }
}
