//! Readiness and liveness probes: one task per probe per run of a process,
//! sleeping between checks (a timer, not a polling loop), reporting a verdict
//! when a threshold is crossed. The task ends with the run (the actor aborts
//! it); an exec probe in flight then has its process group killed.

mod check;
pub(crate) mod counter;

use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::env::Env;
use crate::plan::ProbeSpec;
use crate::registry::Registry;
pub(crate) use counter::{Counter, Verdict};

/// Starts the probe loop; `report` is called with each verdict and the last
/// failure's reason. A liveness probe ignores `Ready` verdicts.
pub(crate) fn spawn(spec: ProbeSpec, env: Env, registry: Arc<Registry>, report: impl Fn(Verdict, String) + Send + 'static) -> JoinHandle<()> {
    tokio::spawn(async move {
        tokio::time::sleep(spec.initial_delay).await;
        let mut counter = Counter::new(spec.success_threshold, spec.failure_threshold);
        let mut next = Instant::now();
        loop {
            let result = check::run(&spec.check, &env, &registry, spec.timeout).await;
            if let Err(reason) = &result {
                tracing::debug!("probe failed: {reason}");
            }
            let reason = result.as_ref().err().cloned().unwrap_or_default();
            match counter.record(result.is_ok()) {
                Some(Verdict::Failed) => {
                    report(Verdict::Failed, format!("{} failed check(s) in a row, last: {reason}", spec.failure_threshold));
                    return;
                }
                Some(Verdict::Ready) => report(Verdict::Ready, String::new()),
                None => {}
            }
            // Period from the start of one check to the next; a slow check is not followed by a burst.
            next = (next + spec.period).max(Instant::now());
            tokio::time::sleep_until(next).await;
        }
    })
}
