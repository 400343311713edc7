//! Bounds on the control socket's connections, so that clients (of the same
//! user: others are refused by uid) cannot exhaust corral's descriptors.
//!
//! - At most [`MAX_CONNECTIONS`] at once, and never so many that fewer than
//!   [`RESERVE`] descriptors remain below the soft limit: spawning and
//!   restarting processes needs descriptors too (pipes, sockets).
//! - When full, a new connection takes the place of the one idle the longest
//!   (waiting for a request, or half-way through sending one); if every
//!   connection is busy (following logs, waiting), it is told `busy` and closed.
//! - A request must arrive whole within [`IDLE_TIMEOUT`] of the connection
//!   becoming idle; otherwise the connection is closed.
//! - When `accept()` fails (EMFILE and the like), the loop waits
//!   [`ACCEPT_BACKOFF`] before trying again instead of spinning.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::platform::rlimit::{open_fds, soft_nofile};

pub const MAX_CONNECTIONS: usize = 128;
/// Descriptors kept free for everything else corral does.
pub const RESERVE: usize = 64;
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

struct Conn {
    /// Since when it waits for a request; `None` while answering one.
    idle_since: Option<Instant>,
    evict: Arc<Notify>,
}

#[derive(Default)]
struct Inner {
    next: u64,
    conns: HashMap<u64, Conn>,
    /// The accept loop has said it is backing off (said once per episode).
    backing_off: bool,
}

#[derive(Default)]
pub struct Limits {
    inner: Mutex<Inner>,
}

/// One admitted connection; dropping it frees its place.
pub struct Slot {
    id: u64,
    limits: Arc<Limits>,
    evict: Arc<Notify>,
}

impl Limits {
    pub fn new() -> Arc<Limits> {
        Arc::new(Limits::default())
    }

    /// Admits a new connection, evicting the longest-idle one if full; `None`
    /// if every connection is busy.
    pub fn admit(self: &Arc<Self>) -> Option<Slot> {
        let mut inner = self.inner.lock().unwrap();
        inner.backing_off = false;
        let fds_short = open_fds() + RESERVE >= soft_nofile() as usize;
        if inner.conns.len() >= MAX_CONNECTIONS || (fds_short && !inner.conns.is_empty()) {
            let oldest = inner.conns.iter().filter_map(|(id, c)| c.idle_since.map(|t| (t, *id))).min();
            match oldest {
                Some((_, id)) => {
                    let conn = inner.conns.remove(&id).expect("found above");
                    conn.evict.notify_one();
                    tracing::debug!("control socket: full; closed the connection idle the longest");
                }
                None => return None,
            }
        }
        let id = inner.next;
        inner.next += 1;
        let evict = Arc::new(Notify::new());
        inner.conns.insert(id, Conn { idle_since: Some(Instant::now()), evict: evict.clone() });
        Some(Slot { id, limits: self.clone(), evict })
    }

    /// `accept()` failed: waits before the next try (EMFILE would otherwise spin).
    pub async fn accept_failed(&self, e: &std::io::Error) {
        let first = !std::mem::replace(&mut self.inner.lock().unwrap().backing_off, true);
        if first {
            tracing::warn!("control socket: cannot accept connections ({e}); retrying every {ACCEPT_BACKOFF:?}");
        }
        tokio::time::sleep(ACCEPT_BACKOFF).await;
    }

    #[cfg(test)]
    pub fn connections(&self) -> usize {
        self.inner.lock().unwrap().conns.len()
    }
}

impl Slot {
    /// Waits for the next request (`read`), as an idle connection: `None` if it
    /// does not arrive whole within [`IDLE_TIMEOUT`] or the connection is evicted.
    pub async fn next_request<F: Future>(&self, read: F) -> Option<F::Output> {
        if !self.set_idle(Some(Instant::now())) {
            return None;
        }
        let r = tokio::select! {
            r = read => Some(r),
            _ = self.evict.notified() => None,
            _ = tokio::time::sleep(IDLE_TIMEOUT) => None,
        };
        if r.is_some() && !self.set_idle(None) {
            return None;
        }
        r
    }

    /// Marks the connection idle or busy; false if it was evicted meanwhile.
    fn set_idle(&self, since: Option<Instant>) -> bool {
        match self.limits.inner.lock().unwrap().conns.get_mut(&self.id) {
            Some(c) => {
                c.idle_since = since;
                true
            }
            None => false,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.limits.inner.lock().unwrap().conns.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_full_house_evicts_the_longest_idle_and_refuses_when_all_are_busy() {
        let limits = Limits::new();
        let slots: Vec<Slot> = (0..MAX_CONNECTIONS).map(|_| limits.admit().unwrap()).collect();
        // All idle: the oldest (the first) goes.
        let newcomer = limits.admit().unwrap();
        assert_eq!(limits.connections(), MAX_CONNECTIONS);
        assert_eq!(slots[0].next_request(std::future::pending::<()>()).await, None, "evicted");
        // All busy: refused.
        for s in &slots[1..] {
            assert!(s.set_idle(None));
        }
        assert!(newcomer.set_idle(None));
        assert!(limits.admit().is_none());
        drop(slots);
        assert_eq!(limits.connections(), 1);
    }
}
