//! One record per process: everything the dispatcher knows about it in one
//! place. Its spec (shared with its actor), its state machine (which also
//! holds the operator's requests and its restart deadline), what `ps` shows
//! of its current run, and the handle of its actor.

use std::sync::Arc;
use std::time::Instant;

use corral_protocol::{ProcessInfo, ProcessState};

use crate::plan::ProcessSpec;
use crate::state::{ExitKind, Machine, State};

pub(crate) struct ProcessRecord<H> {
    pub(crate) spec: Arc<ProcessSpec>,
    pub(crate) machine: Machine,
    pub(crate) run: RunInfo,
    /// Its actor (the I/O side); a unit in the dispatcher's unit tests.
    pub(crate) actor: H,
    /// A replica removed by `scale`: stopped, left out of `ps` and of its
    /// dependents' conditions, kept (with its actor) to be reused by a later scale up.
    pub(crate) retired: bool,
}

/// An actor handle the core can make for a record it adds (a replica added
/// by `scale`); the shell starts the actor, commands sent before are kept.
pub(crate) trait NewActor {
    fn unstarted() -> Self;
}

impl NewActor for () {
    fn unstarted() {}
}

/// What `ps` shows beyond the state machine.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunInfo {
    pub(crate) pid: Option<i32>,
    pub(crate) started: Option<Instant>,
    pub(crate) exit: Option<ExitKind>,
    /// The last `STATUS=` it sent with sd_notify.
    pub(crate) status: Option<String>,
    /// Fixed for the run, shown to clients: its dependencies' names.
    pub(crate) depends_on: Vec<String>,
}

impl<H> ProcessRecord<H> {
    pub(crate) fn new(spec: Arc<ProcessSpec>, actor: H) -> ProcessRecord<H> {
        let machine = Machine::new(spec.enabled, spec.success_codes.clone(), spec.restart.clone());
        ProcessRecord { spec, machine, run: RunInfo::default(), actor, retired: false }
    }

    pub(crate) fn name(&self) -> &str {
        &self.spec.name
    }

    pub(crate) fn state(&self) -> &State {
        self.machine.state()
    }

    /// Held stopped on request and ended.
    pub(crate) fn is_stopped_on_request(&self) -> bool {
        self.machine.requests().held && self.state().is_terminal()
    }

    /// The process as `ps` shows it, at `now`.
    pub(crate) fn info(&self, now: Instant) -> ProcessInfo {
        let state = self.state();
        let live = matches!(state, State::Running { .. } | State::Ready { .. } | State::Stopping { .. });
        ProcessInfo {
            name: self.spec.name.clone(),
            state: if self.is_stopped_on_request() { ProcessState::Stopped } else { state.public() },
            pid: if live { self.run.pid } else { None },
            uptime_seconds: if live { self.run.started.map(|t| now.saturating_duration_since(t).as_secs()) } else { None },
            restarts: self.machine.restarts(),
            exit: self.run.exit,
            ready: matches!(state, State::Ready { .. }),
            status: self.run.status.clone(),
            reason: match state {
                State::Failed { reason, .. } | State::Skipped { reason } => Some(reason.clone()),
                _ => None,
            },
            ports: Default::default(),
            replica: self.spec.replica.as_ref().map(|r| r.num),
            containment: None,
            resources: None,
            restart_in_ms: self.machine.next_deadline().map(|t| t.saturating_duration_since(now).as_millis() as u64),
            readiness_check: Some(self.spec.has_readiness_check()),
            depends_on: self.run.depends_on.clone(),
            namespaces: self.spec.namespaces.clone(),
        }
    }
}
