//! The dispatcher's side of the control socket: snapshots for `ps`, manual
//! `start` / `stop` / `restart` honouring dependencies, and the readiness
//! verdict `wait` needs. Requests arrive on a channel from the socket server
//! and are answered on a oneshot.
//!
//! `stop NAME` stops NAME and, first, everything that depends on it;
//! `start NAME` starts NAME and, first, what it depends on that is not
//! running; `restart NAME` stops NAME alone and starts it again. A stopped
//! process stays stopped ("held") until started: the run does not end just
//! because everything is stopped, as long as something is held.

use std::collections::BTreeSet;
use std::time::Instant;

use corral_protocol::{ErrorBody, ErrorCode, ProcessInfo, ProcessState, Reply, Response};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::Dispatcher;
use crate::exit::EndCause;
use crate::state::{ExitKind, Input, State};

/// What the socket server asks of the dispatcher.
#[derive(Debug)]
pub enum Ctl {
    Ps,
    Start(Vec<String>),
    Stop(Vec<String>),
    Restart(Vec<String>),
    Down,
    /// Whether every process is ready: `Ready { ready }`, or a `failed` error naming the process.
    Readiness,
}

#[derive(Debug)]
pub struct ControlRequest {
    pub ctl: Ctl,
    pub reply: oneshot::Sender<Reply>,
}

/// The dispatcher's ends of the control channels.
pub struct ControlLink {
    pub requests: mpsc::UnboundedReceiver<ControlRequest>,
    /// Every state change, for `attach` and `wait`.
    pub events: broadcast::Sender<ProcessInfo>,
}

/// What `ps` shows beyond the state machine.
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    pub pid: Option<i32>,
    pub started: Option<Instant>,
    pub exit: Option<ExitKind>,
    /// The last `STATUS=` it sent with sd_notify.
    pub status: Option<String>,
}

impl Dispatcher {
    pub(super) fn handle(&mut self, req: ControlRequest) {
        let reply = match req.ctl {
            Ctl::Ps => Ok(Response::Processes(self.snapshot())),
            Ctl::Readiness => self.readiness(),
            Ctl::Down => {
                tracing::info!("down requested: stopping every process");
                self.begin_stop(EndCause::Stopped);
                Ok(Response::Stopping { stopping: true })
            }
            Ctl::Start(names) => self.indices(&names).map(|ix| self.start(ix)),
            Ctl::Stop(names) => match self.indices(&names) {
                Ok(ix) => {
                    let set = self.stop(ix, true);
                    self.pending_stops.push((set, req.reply));
                    return;
                }
                Err(e) => Err(e),
            },
            Ctl::Restart(names) => match self.indices(&names) {
                Ok(ix) => {
                    self.restart_pending.extend(ix.iter().copied());
                    let set = self.stop(ix, false);
                    self.pending_stops.push((set, req.reply));
                    return;
                }
                Err(e) => Err(e),
            },
        };
        let _ = req.reply.send(reply);
    }

    fn indices(&self, names: &[String]) -> Result<Vec<usize>, ErrorBody> {
        if names.is_empty() {
            return Err(ErrorBody { code: ErrorCode::BadRequest, message: "name at least one process".into() });
        }
        names
            .iter()
            .map(|n| {
                self.plan.processes.iter().position(|p| &p.name == n).ok_or_else(|| {
                    let known: Vec<&str> = self.plan.processes.iter().map(|p| p.name.as_str()).collect();
                    ErrorBody { code: ErrorCode::UnknownProcess, message: format!("unknown process {n:?} (known: {})", known.join(", ")) }
                })
            })
            .collect()
    }

    /// Starts `ix` and what they depend on that has ended.
    fn start(&mut self, ix: Vec<usize>) -> Response {
        if self.stopping() {
            return Response::Started { started: vec![] };
        }
        let mut wanted = BTreeSet::new();
        let mut stack = ix;
        while let Some(i) = stack.pop() {
            if wanted.insert(i) {
                stack.extend(self.plan.processes[i].dependencies.iter().map(|(d, _)| *d));
            }
        }
        let mut started = Vec::new();
        for i in wanted {
            self.held.remove(&i);
            self.stop_requests.remove(&i);
            if self.machines[i].state().is_terminal() {
                self.apply(i, Input::Start);
                started.push(self.plan.processes[i].name.clone());
            }
        }
        Response::Started { started }
    }

    /// Asks `ix` (and, with `with_dependents`, everything depending on them) to
    /// stop; `advance` stops them in reverse dependency order. Returns the set.
    fn stop(&mut self, ix: Vec<usize>, with_dependents: bool) -> BTreeSet<usize> {
        let mut set = BTreeSet::new();
        let mut stack = ix;
        while let Some(i) = stack.pop() {
            if set.insert(i) && with_dependents {
                stack.extend(self.plan.processes[i].dependents.iter().copied());
            }
        }
        self.stop_requests.extend(set.iter().copied());
        self.held.extend(set.iter().copied());
        set
    }

    /// Runs the manual stops and restarts that can go ahead now; true if anything changed.
    pub(super) fn advance_requests(&mut self) -> bool {
        let mut changed = false;
        for i in self.stop_requests.clone() {
            let state = self.machines[i].state().clone();
            if state.is_terminal() {
                self.stop_requests.remove(&i);
                if self.restart_pending.remove(&i) {
                    self.held.remove(&i);
                    self.apply(i, Input::Start);
                }
                changed = true;
                continue;
            }
            let dependents_done = self.plan.processes[i].dependents.iter().all(|d| !self.stop_requests.contains(d) || self.machines[*d].state().is_terminal());
            let stoppable = match state {
                State::Pending | State::Waiting | State::Restarting { .. } => true,
                State::Starting | State::Running { .. } | State::Ready { .. } => dependents_done,
                _ => false,
            };
            if stoppable {
                self.apply(i, Input::Stop);
                changed = true;
            }
        }
        let done: Vec<usize> = (0..self.pending_stops.len()).filter(|k| self.pending_stops[*k].0.iter().all(|i| !self.stop_requests.contains(i))).collect();
        for k in done.into_iter().rev() {
            let (set, reply) = self.pending_stops.remove(k);
            let _ = reply.send(Ok(self.stopped(&set)));
        }
        changed
    }

    /// The answer to a `stop` / `restart` of `set`.
    pub(super) fn stopped(&self, set: &BTreeSet<usize>) -> Response {
        Response::Stopped { stopped: set.iter().map(|i| self.plan.processes[*i].name.clone()).collect() }
    }

    /// Every process, as `ps` shows it.
    pub(super) fn snapshot(&self) -> Vec<ProcessInfo> {
        (0..self.machines.len()).map(|i| self.info(i)).collect()
    }

    pub(super) fn info(&self, i: usize) -> ProcessInfo {
        let state = self.machines[i].state();
        let run = &self.runs[i];
        let live = matches!(state, State::Running { .. } | State::Ready { .. } | State::Stopping { .. });
        ProcessInfo {
            name: self.plan.processes[i].name.clone(),
            state: if self.held.contains(&i) && state.is_terminal() { ProcessState::Stopped } else { state.public() },
            pid: if live { run.pid } else { None },
            uptime_seconds: if live { run.started.map(|t| t.elapsed().as_secs()) } else { None },
            restarts: self.machines[i].restarts(),
            exit: run.exit,
            ready: matches!(state, State::Ready { .. }),
            status: run.status.clone(),
            reason: match state {
                State::Failed { reason, .. } | State::Skipped { reason } => Some(reason.clone()),
                _ => None,
            },
            replica: None,
            containment: None,
            resources: None,
        }
    }

    /// Ready when every process of the run is ready, running without a
    /// readiness check, or completed successfully; failed when one failed or
    /// was skipped.
    fn readiness(&self) -> Reply {
        let failed = |message| Err(ErrorBody { code: ErrorCode::Failed, message });
        let mut all_ready = true;
        for (i, m) in self.machines.iter().enumerate() {
            let spec = &self.plan.processes[i];
            let name = &spec.name;
            match m.state() {
                State::Failed { reason, .. } => return failed(format!("{name} failed: {reason}")),
                State::Skipped { reason } if !self.held.contains(&i) => return failed(format!("{name} was skipped: {reason}")),
                State::Ready { .. } | State::Disabled | State::Skipped { .. } => {}
                State::Completed { stopped: false, .. } => {}
                State::Completed { stopped: true, .. } if self.held.contains(&i) => {}
                State::Running { .. } if !spec.has_readiness_check() => {}
                _ => all_ready = false,
            }
        }
        Ok(Response::Ready { ready: all_ready })
    }

    /// Tells followers about process `i`'s new state.
    pub(super) fn publish(&self, i: usize) {
        // Built only when someone listens (attach, wait): this runs on every transition.
        if let Some(tx) = self.state_events.as_ref().filter(|tx| tx.receiver_count() > 0) {
            let _ = tx.send(self.info(i));
        }
    }
}
