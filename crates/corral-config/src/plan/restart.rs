//! Restart rules: whether an ended run is followed by another, and after how long.
//!
//! - `restart` decides on the outcome: `no` never, `on_failure` and
//!   `exit_on_failure`… (the latter ends the whole run instead, see the
//!   supervisor), `always` whatever the outcome. A liveness failure restarts
//!   whatever the policy: that is what a liveness probe is for.
//! - `max_restarts` restarts in a row at most (0 = unlimited); then corral gives up.
//! - The delay is `backoff_seconds`, doubled with each restart in a row, up to
//!   `backoff_max_seconds` (which defaults to `backoff_seconds`: a fixed delay,
//!   as in process-compose).
//! - A run that lasted `stable_after_seconds` (default 10) is stable: the count
//!   and the delay start over, so a service that crashes once a day is never
//!   given up on, unlike process-compose whose counter never resets.

use std::time::Duration;

use crate::{Availability, RestartPolicy};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartRules {
    pub policy: RestartPolicy,
    pub max_restarts: u32,
    pub backoff: Duration,
    pub backoff_max: Duration,
    pub stable_after: Duration,
}

impl RestartRules {
    pub fn from_config(a: &Availability) -> RestartRules {
        RestartRules {
            policy: a.restart,
            max_restarts: a.max_restarts,
            backoff: a.backoff(),
            backoff_max: a.backoff_max(),
            stable_after: a.stable_after(),
        }
    }

    /// No restarts at all (and the defaults for the rest).
    pub fn never() -> RestartRules {
        RestartRules::from_config(&Availability::default())
    }

    /// Whether the policy asks for a restart after a run that `succeeded` or not.
    pub fn wants_restart(&self, succeeded: bool) -> bool {
        match self.policy {
            RestartPolicy::No | RestartPolicy::ExitOnFailure => false,
            RestartPolicy::OnFailure => !succeeded,
            RestartPolicy::Always => true,
        }
    }

    /// Whether restart number `attempt` (1-based, in a row) is allowed.
    pub fn allows(&self, attempt: u32) -> bool {
        self.max_restarts == 0 || attempt <= self.max_restarts
    }

    /// The delay before restart number `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(32);
        self.backoff.saturating_mul(1u32 << doublings.min(31)).min(self.backoff_max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(policy: RestartPolicy, max: u32, backoff_ms: u64, max_ms: u64) -> RestartRules {
        RestartRules {
            policy,
            max_restarts: max,
            backoff: Duration::from_millis(backoff_ms),
            backoff_max: Duration::from_millis(max_ms),
            stable_after: Duration::from_secs(10),
        }
    }

    #[test]
    fn policies() {
        let r = |p| rules(p, 0, 1000, 1000);
        assert!(!r(RestartPolicy::No).wants_restart(false));
        assert!(r(RestartPolicy::OnFailure).wants_restart(false));
        assert!(!r(RestartPolicy::OnFailure).wants_restart(true));
        assert!(r(RestartPolicy::Always).wants_restart(true));
        assert!(!r(RestartPolicy::ExitOnFailure).wants_restart(false));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_is_fixed_by_default() {
        let r = rules(RestartPolicy::Always, 0, 100, 1000);
        let delays: Vec<u128> = (1..=6).map(|a| r.delay(a).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(r.delay(u32::MAX).as_millis(), 1000, "no overflow");
        let fixed = RestartRules::from_config(&Availability { backoff_seconds: Some(crate::Seconds::from_secs(2)), ..Default::default() });
        assert_eq!((fixed.delay(1), fixed.delay(5)), (Duration::from_secs(2), Duration::from_secs(2)));
    }

    #[test]
    fn max_restarts_zero_is_unlimited() {
        assert!(rules(RestartPolicy::Always, 0, 1, 1).allows(1_000_000));
        let r = rules(RestartPolicy::Always, 3, 1, 1);
        assert!(r.allows(3) && !r.allows(4));
    }
}
