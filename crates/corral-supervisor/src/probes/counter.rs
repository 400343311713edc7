//! Probe thresholds, pure: consecutive successes make a process ready,
//! consecutive failures make it fail, before or after it was ever ready.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// `success_threshold` successes in a row (reported once).
    Ready,
    /// `failure_threshold` failures in a row.
    Failed,
}

#[derive(Debug, Clone)]
pub(crate) struct Counter {
    success_threshold: u32,
    failure_threshold: u32,
    successes: u32,
    failures: u32,
    ready: bool,
}

impl Counter {
    pub(crate) fn new(success_threshold: u32, failure_threshold: u32) -> Counter {
        Counter { success_threshold: success_threshold.max(1), failure_threshold: failure_threshold.max(1), successes: 0, failures: 0, ready: false }
    }

    /// Records one check; returns a verdict when a threshold is crossed.
    pub(crate) fn record(&mut self, ok: bool) -> Option<Verdict> {
        if ok {
            self.failures = 0;
            self.successes = self.successes.saturating_add(1);
            if !self.ready && self.successes >= self.success_threshold {
                self.ready = true;
                return Some(Verdict::Ready);
            }
        } else {
            self.successes = 0;
            self.failures = self.failures.saturating_add(1);
            if self.failures >= self.failure_threshold {
                self.failures = 0;
                self.ready = false;
                return Some(Verdict::Failed);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(c: &mut Counter, checks: &str) -> Vec<Option<Verdict>> {
        checks.chars().map(|ch| c.record(ch == '+')).collect()
    }

    #[test]
    fn success_threshold_counts_consecutive_successes() {
        let mut c = Counter::new(3, 2);
        let v = feed(&mut c, "++-+++");
        assert_eq!(v, [None, None, None, None, None, Some(Verdict::Ready)]);
        assert_eq!(c.record(true), None, "ready is reported once");
    }

    #[test]
    fn failure_threshold_counts_consecutive_failures_even_before_ready() {
        let mut c = Counter::new(1, 3);
        assert_eq!(feed(&mut c, "--+--"), [None, None, Some(Verdict::Ready), None, None]);
        assert_eq!(c.record(false), Some(Verdict::Failed));
        let mut never_ready = Counter::new(1, 2);
        assert_eq!(feed(&mut never_ready, "--"), [None, Some(Verdict::Failed)]);
    }
}
