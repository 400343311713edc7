//! What a file change does to a watched process.
//!
//! - Running (or starting, or ready): restarted with its normal stop
//!   sequence, exactly as `corral restart` would.
//! - Ended (a one-shot that completed, a process that failed or gave up):
//!   run again. Its restart count starts over: watch-triggered runs never
//!   count against `max_restarts`.
//! - Stopped on request, disabled, waiting, stopping, restarting: nothing.
//!
//! With `cascade`, the processes that depend on it, transitively, are stopped
//! first (dependents before their dependencies) and started again after it,
//! each once its dependencies' conditions are met again: so in dependency
//! order, and a dependent never runs against its dependency's old output.

use std::collections::BTreeSet;
use std::path::Path;

use super::Dispatcher;
use crate::state::{Input, State};

impl Dispatcher {
    pub(super) fn on_change(&mut self, i: usize, path: &Path) {
        if self.stopping() || self.held.contains(&i) {
            return;
        }
        let spec = &self.plan.processes[i];
        let shown = path.strip_prefix(&self.plan.root).unwrap_or(path).display().to_string();
        let mut set = BTreeSet::from([i]);
        if spec.watch.as_ref().is_some_and(|w| w.cascade) {
            let mut stack: Vec<usize> = spec.dependents.clone();
            while let Some(d) = stack.pop() {
                if set.insert(d) {
                    stack.extend(self.plan.processes[d].dependents.iter().copied());
                }
            }
        }
        match self.machines[i].state() {
            State::Starting | State::Running { .. } | State::Ready { .. } => {
                tracing::info!("{}: {shown} changed; restarting", spec.name);
            }
            State::Completed { .. } | State::Failed { .. } | State::Skipped { .. } => {
                tracing::info!("{}: {shown} changed; running it again", spec.name);
            }
            _ => return,
        }
        // Stop what runs (dependents first, see advance_requests), then start all again.
        for &k in &set {
            if self.machines[k].state().is_terminal() {
                if !matches!(self.machines[k].state(), State::Disabled) || k == i {
                    self.apply(k, Input::Start);
                }
            } else if !self.held.contains(&k) {
                self.stop_requests.insert(k);
                self.restart_pending.insert(k);
            }
        }
    }
}
