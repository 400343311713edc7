//! The dispatcher's decisions on control requests: snapshots for `ps`, manual
//! `start` / `stop` / `restart` honouring dependencies, and the readiness
//! verdict `wait` needs.
//!
//! `stop NAME` stops NAME and, first, everything that depends on it;
//! `start NAME` starts NAME and, first, what it depends on that is not
//! running; `restart NAME` stops NAME alone and starts it again. A stopped
//! process stays stopped ("held", see [`crate::state::Requests`]) until
//! started: the run does not end just because everything is stopped, as long
//! as something is held.

use std::time::Instant;

use corral_protocol::{ErrorBody, ErrorCode, ProcessInfo, Reply, Response};

use super::core::{Action, Core, ReplyTo};
use super::record::NewActor;
use crate::exit::EndCause;
use crate::state::{Input, State};

/// What the socket server asks of the dispatcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ctl {
    Ps,
    Start(Vec<String>),
    Stop(Vec<String>),
    Restart(Vec<String>),
    Down,
    /// Whether every process is ready: `Ready { ready }`, or a `failed` error naming the process.
    Readiness,
    /// Run this many replicas of the process (see [`super::scale`]).
    Scale(String, u32),
}

impl<H: NewActor> Core<H> {
    pub(super) fn on_control(&mut self, to: ReplyTo, ctl: Ctl, now: Instant, out: &mut Vec<Action>) {
        let reply = match ctl {
            Ctl::Ps => Ok(Response::Processes(self.snapshot(now))),
            Ctl::Readiness => self.readiness(),
            Ctl::Down => {
                tracing::info!("down requested: stopping every process");
                self.begin_stop(EndCause::Stopped, now, out);
                Ok(Response::Stopping { stopping: true })
            }
            Ctl::Scale(name, n) => self.scale(&name, n, now, out),
            Ctl::Start(names) => self.indices(&names).map(|ix| self.start(ix, now, out)),
            Ctl::Stop(names) => match self.indices(&names) {
                Ok(ix) => {
                    let set = self.stop(ix, true, false);
                    self.pending_stops.push((set, to));
                    return;
                }
                Err(e) => Err(e),
            },
            Ctl::Restart(names) => match self.indices(&names) {
                Ok(ix) => {
                    let set = self.stop(ix, false, true);
                    self.pending_stops.push((set, to));
                    return;
                }
                Err(e) => Err(e),
            },
        };
        out.push(Action::Reply(to, reply));
    }

    fn indices(&self, names: &[String]) -> Result<Vec<usize>, ErrorBody> {
        if names.is_empty() {
            return Err(ErrorBody { code: ErrorCode::BadRequest, message: "name at least one process".into() });
        }
        names
            .iter()
            .map(|n| {
                self.records.iter().position(|r| r.name() == n && !r.retired).ok_or_else(|| {
                    let known: Vec<&str> = self.records.iter().filter(|r| !r.retired).map(|r| r.name()).collect();
                    ErrorBody { code: ErrorCode::UnknownProcess, message: format!("unknown process {n:?} (known: {})", known.join(", ")) }
                })
            })
            .collect()
    }

    /// Starts `ix` and what they depend on that has ended.
    fn start(&mut self, ix: Vec<usize>, now: Instant, out: &mut Vec<Action>) -> Response {
        if self.stopping() {
            return Response::Started { started: vec![] };
        }
        let mut wanted = ix;
        let mut k = 0;
        while k < wanted.len() {
            for &(d, _) in &self.records[wanted[k]].spec.dependencies {
                if !wanted.contains(&d) {
                    wanted.push(d);
                }
            }
            k += 1;
        }
        wanted.sort_unstable();
        let mut started = Vec::new();
        for i in wanted {
            self.records[i].machine.release();
            if self.records[i].state().is_terminal() {
                self.apply(i, Input::Start, now, out);
                started.push(self.name(i).to_string());
            }
        }
        Response::Started { started }
    }

    /// Asks `ix` (and, without `restart`, everything depending on them) to
    /// stop; `advance` stops them in reverse dependency order. Returns the set,
    /// in plan order.
    fn stop(&mut self, ix: Vec<usize>, with_dependents: bool, restart: bool) -> Vec<usize> {
        let mut set = ix;
        let mut k = 0;
        while with_dependents && k < set.len() {
            for &d in &self.records[set[k]].spec.dependents {
                if !set.contains(&d) {
                    set.push(d);
                }
            }
            k += 1;
        }
        set.sort_unstable();
        set.dedup();
        for &i in &set {
            self.records[i].machine.request_stop(true, restart);
        }
        set
    }

    /// Runs the manual stops and restarts that can go ahead now; true if anything changed.
    pub(super) fn advance_requests(&mut self, now: Instant, out: &mut Vec<Action>) -> bool {
        let mut changed = false;
        for i in 0..self.records.len() {
            if !self.records[i].machine.requests().stop {
                continue;
            }
            let state = self.records[i].state();
            if state.is_terminal() {
                if self.records[i].machine.stop_done() {
                    self.apply(i, Input::Start, now, out);
                }
                changed = true;
                continue;
            }
            let dependents_done = self.records[i].spec.dependents.iter().all(|&d| !self.records[d].machine.requests().stop || self.records[d].state().is_terminal());
            let stoppable = match state {
                State::Pending | State::Waiting | State::Restarting { .. } => true,
                State::Starting | State::Running { .. } | State::Ready { .. } => dependents_done,
                _ => false,
            };
            if stoppable {
                self.apply(i, Input::Stop, now, out);
                changed = true;
            }
        }
        let mut k = 0;
        while k < self.pending_stops.len() {
            if self.pending_stops[k].0.iter().all(|&i| !self.records[i].machine.requests().stop) {
                let (set, to) = self.pending_stops.remove(k);
                out.push(Action::Reply(to, Ok(self.stopped(&set))));
            } else {
                k += 1;
            }
        }
        changed
    }

    /// The answer to a `stop` / `restart` of `set`.
    pub(super) fn stopped(&self, set: &[usize]) -> Response {
        Response::Stopped { stopped: set.iter().map(|&i| self.name(i).to_string()).collect() }
    }

    /// Every process, as `ps` shows it.
    pub(crate) fn snapshot(&self, now: Instant) -> Vec<ProcessInfo> {
        (0..self.records.len()).filter(|&i| !self.records[i].retired).map(|i| self.info(i, now)).collect()
    }

    /// Ready when every process of the run is ready, running without a
    /// readiness check, or completed successfully; failed when one failed or
    /// was skipped.
    fn readiness(&self) -> Reply {
        let failed = |message| Err(ErrorBody { code: ErrorCode::Failed, message });
        let mut all_ready = true;
        for r in self.records.iter().filter(|r| !r.retired) {
            let (name, held) = (r.name(), r.machine.requests().held);
            match r.state() {
                State::Failed { reason, .. } => return failed(format!("{name} failed: {reason}")),
                State::Skipped { reason } if !held => return failed(format!("{name} was skipped: {reason}")),
                State::Ready { .. } | State::Disabled | State::Skipped { .. } => {}
                State::Completed { stopped: false, .. } => {}
                State::Completed { stopped: true, .. } if held => {}
                State::Running { .. } if !r.spec.has_readiness_check() => {}
                _ => all_ready = false,
            }
        }
        Ok(Response::Ready { ready: all_ready })
    }
}
