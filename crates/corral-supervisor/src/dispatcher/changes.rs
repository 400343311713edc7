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

use std::path::Path;
use std::time::Instant;

use super::core::{Action, Core};
use crate::state::{Input, State};

impl<H: super::record::NewActor> Core<H> {
    pub(super) fn on_change(&mut self, i: usize, path: &Path, now: Instant, out: &mut Vec<Action>) {
        if self.stopping() || self.records[i].machine.requests().held {
            return;
        }
        let spec = &self.records[i].spec;
        let shown = path.strip_prefix(self.root()).unwrap_or(path).display().to_string();
        let mut set = vec![i];
        if spec.watch.as_ref().is_some_and(|w| w.cascade) {
            let mut k = 0;
            while k < set.len() {
                for &d in &self.records[set[k]].spec.dependents {
                    if !set.contains(&d) {
                        set.push(d);
                    }
                }
                k += 1;
            }
        }
        set.sort_unstable();
        match self.records[i].state() {
            State::Starting | State::Running { .. } | State::Ready { .. } => {
                tracing::info!("{}: {shown} changed; restarting", self.name(i));
            }
            State::Completed { .. } | State::Failed { .. } | State::Skipped { .. } => {
                tracing::info!("{}: {shown} changed; running it again", self.name(i));
            }
            _ => return,
        }
        // Stop what runs (dependents first, see advance_requests), then start all again.
        for k in set {
            let r = &mut self.records[k];
            if r.state().is_terminal() {
                if !matches!(r.state(), State::Disabled) || k == i {
                    self.apply(k, Input::Start, now, out);
                }
            } else if !r.machine.requests().held {
                r.machine.request_stop(false, true);
            }
        }
    }
}
