//! When corral gives back the memory a burst made resident (code pages, the
//! heap's free pages: see `platform::memory`). A burst is the start of every
//! process, a restart, a `scale`, a control request: the dispatcher reports
//! each event it handles, and once it has been quiet for [`QUIET`] the trim
//! runs, if pages came in since the last one. Nothing ticks while nothing
//! happens; a process in a restart loop costs at most one trim per
//! [`MIN_INTERVAL`]. The policy is pure (unit-tested); the dispatcher's shell
//! waits for [`Trim::due`] and calls [`Trim::fire`].

use std::time::{Duration, Instant};

use crate::platform::memory;

/// How long the dispatcher must have been idle before a trim.
pub(crate) const QUIET: Duration = Duration::from_millis(500);
/// At most one trim this often.
pub(crate) const MIN_INTERVAL: Duration = Duration::from_secs(10);
/// Minor faults since the last trim below which a trim would give back too little to bother.
pub(crate) const MIN_FAULTS: u64 = 32;

#[derive(Debug, Default)]
pub(crate) struct Trim {
    due: Option<Instant>,
    last: Option<Instant>,
    faults_after_last: u64,
}

impl Trim {
    /// The dispatcher handled an event at `now`.
    pub(crate) fn activity(&mut self, now: Instant) {
        let quiet = now + QUIET;
        self.due = Some(match self.last {
            Some(last) => quiet.max(last + MIN_INTERVAL),
            None => quiet,
        });
    }

    /// When the next trim is due, if one is.
    pub(crate) fn due(&self) -> Option<Instant> {
        self.due
    }

    /// The trim is due at `now`, with `faults` minor faults so far: whether to
    /// trim (then call [`Trim::done`] with the count after it).
    pub(crate) fn should_trim(&mut self, now: Instant, faults: u64) -> bool {
        self.due = None;
        if faults.saturating_sub(self.faults_after_last) < MIN_FAULTS {
            return false;
        }
        self.last = Some(now);
        true
    }

    pub(crate) fn done(&mut self, faults: u64) {
        self.faults_after_last = faults;
    }

    /// Carries out a due trim (from the dispatcher's shell, on the main thread).
    pub(crate) fn fire(&mut self, now: Instant) {
        if !self.should_trim(now, memory::minor_faults()) {
            return;
        }
        match memory::trim() {
            Ok(t) => tracing::debug!("memory: gave back {} KiB of code and read-only data, {} KiB of stack", t.file_kb, t.stack_kb),
            Err(e) => tracing::debug!("memory: cannot trim: {e}"),
        }
        self.done(memory::minor_faults());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_once_quiet_after_the_last_event() {
        let t0 = Instant::now();
        let mut t = Trim::default();
        assert_eq!(t.due(), None, "nothing happened: no timer");
        t.activity(t0);
        t.activity(t0 + Duration::from_millis(300));
        assert_eq!(t.due(), Some(t0 + Duration::from_millis(300) + QUIET));
    }

    #[test]
    fn trims_only_when_pages_came_in() {
        let t0 = Instant::now();
        let mut t = Trim::default();
        t.activity(t0);
        assert!(t.should_trim(t0 + QUIET, 1000));
        t.done(1010);
        assert_eq!(t.due(), None, "no timer after a trim");
        t.activity(t0 + Duration::from_secs(20));
        assert!(!t.should_trim(t0 + Duration::from_secs(21), 1010 + MIN_FAULTS - 1), "too little came in");
        t.activity(t0 + Duration::from_secs(30));
        assert!(t.should_trim(t0 + Duration::from_secs(31), 1010 + MIN_FAULTS));
    }

    #[test]
    fn at_most_one_trim_per_interval() {
        let t0 = Instant::now();
        let mut t = Trim::default();
        t.activity(t0);
        assert!(t.should_trim(t0 + QUIET, 1000));
        t.done(1000);
        // A restart loop: an event every second.
        t.activity(t0 + Duration::from_secs(1));
        assert_eq!(t.due(), Some(t0 + QUIET + MIN_INTERVAL));
        t.activity(t0 + MIN_INTERVAL + Duration::from_secs(2));
        assert_eq!(t.due(), Some(t0 + MIN_INTERVAL + Duration::from_secs(2) + QUIET));
    }
}
