//! What a running process tells corral by itself, for one run: sd_notify
//! datagrams, a newline on its s6 notification fd, and the watchdog fed by
//! `WATCHDOG=1`. Turned into events: ready, watchdog expired, and the
//! `STATUS=` text (an event like the others, so `attach` sees it).

use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use tokio::time::Instant;

use crate::notify::{NotifySocket, Summary};
use crate::plan::WatchdogSpec;
use crate::platform::procfs;
use crate::time::sleep_until;

pub(super) enum WatchEvent {
    Ready,
    Expired(String),
}

pub(super) struct NotifyWatch<'a> {
    name: &'a str,
    notify: Option<&'a NotifySocket>,
    main_pid: i32,
    /// `MAINPID=` from the process, also allowed to notify.
    reported_pid: Option<i32>,
    ready_fd: Option<pipe::Receiver>,
    watchdog: Option<&'a WatchdogSpec>,
    deadline: Option<Instant>,
    on_status: &'a (dyn Fn(String) + Sync),
}

impl<'a> NotifyWatch<'a> {
    pub(super) fn new(
        name: &'a str,
        notify: Option<&'a NotifySocket>,
        main_pid: i32,
        ready_fd: Option<pipe::Receiver>,
        watchdog: Option<&'a WatchdogSpec>,
        on_status: &'a (dyn Fn(String) + Sync),
    ) -> NotifyWatch<'a> {
        let mut w = NotifyWatch { name, notify, main_pid, reported_pid: None, ready_fd, watchdog, deadline: None, on_status };
        if watchdog.is_some_and(|wd| !wd.require_ready) {
            w.arm();
        }
        w
    }

    fn arm(&mut self) {
        if let Some(wd) = self.watchdog {
            self.deadline = Some(Instant::now() + wd.timeout);
        }
    }

    /// Whether there is nothing to watch: no notify socket, readiness fd or watchdog.
    pub(super) fn is_idle(&self) -> bool {
        self.notify.is_none() && self.ready_fd.is_none() && self.deadline.is_none() && self.watchdog.is_none()
    }

    /// Stops the watchdog (the run is being stopped).
    pub(super) fn disarm(&mut self) {
        self.deadline = None;
        self.watchdog = None;
    }


    /// The next ready or expiry. Cancel-safe.
    pub(super) async fn next(&mut self) -> WatchEvent {
        loop {
            let deadline = self.deadline;
            let (main, reported) = (self.main_pid, self.reported_pid);
            tokio::select! {
                summary = next_summary(self.notify, move |pid| accepts(main, reported, pid)) => {
                    if let Some(ev) = self.absorb(summary) {
                        return ev;
                    }
                }
                seen = read_newline(&mut self.ready_fd), if self.ready_fd.is_some() => {
                    self.ready_fd = None;
                    if seen {
                        tracing::debug!("{}: wrote its readiness newline", self.name);
                        if self.watchdog.is_some_and(|w| w.require_ready) && self.deadline.is_none() {
                            self.arm();
                        }
                        return WatchEvent::Ready;
                    }
                    tracing::debug!("{}: closed its readiness fd without a newline", self.name);
                }
                _ = sleep_until(deadline), if deadline.is_some() => {
                    let timeout = self.watchdog.map(|w| w.timeout).unwrap_or_default();
                    self.disarm();
                    return WatchEvent::Expired(format!("no WATCHDOG=1 within {timeout:?}"));
                }
            }
        }
    }

    fn absorb(&mut self, s: Summary) -> Option<WatchEvent> {
        let name = self.name;
        if let Some(status) = s.status {
            tracing::info!("{name}: status: {status}");
            (self.on_status)(status);
        }
        if let Some(pid) = s.main_pid {
            tracing::info!("{name}: reports its main pid is {pid}");
            self.reported_pid = Some(pid);
        }
        if s.stopping {
            tracing::info!("{name}: says it is stopping");
        }
        if s.reloading {
            tracing::info!("{name}: says it is reloading");
        }
        if let Some(e) = s.errno {
            tracing::info!("{name}: reports errno {e}");
        }
        if s.watchdog_trigger && self.watchdog.is_some() {
            self.disarm();
            return Some(WatchEvent::Expired("the process sent WATCHDOG=trigger".into()));
        }
        if s.watchdog_ping && self.deadline.is_some() {
            self.arm();
        }
        if s.extend_usec > 0 {
            if let Some(d) = &mut self.deadline {
                *d += Duration::from_micros(s.extend_usec);
                tracing::info!("{name}: extended its watchdog by {:?}", Duration::from_micros(s.extend_usec));
            }
        }
        if s.ready {
            if self.watchdog.is_some_and(|w| w.require_ready) && self.deadline.is_none() {
                self.arm();
            }
            return Some(WatchEvent::Ready);
        }
        None
    }
}

/// A sender is accepted if it is the process, the pid it reported, or in its process group.
fn accepts(main: i32, reported: Option<i32>, pid: i32) -> bool {
    pid == main || Some(pid) == reported || procfs::stat(pid).is_some_and(|s| s.pgid == main)
}

async fn next_summary(notify: Option<&NotifySocket>, accept: impl Fn(i32) -> bool) -> Summary {
    match notify {
        Some(n) => n.next(accept).await,
        None => std::future::pending().await,
    }
}

/// True once a newline arrives; false at end of file without one.
async fn read_newline(fd: &mut Option<pipe::Receiver>) -> bool {
    let Some(rx) = fd else { return std::future::pending().await };
    let mut buf = [0u8; 256];
    loop {
        match rx.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) if buf[..n].contains(&b'\n') => return true,
            Ok(_) => {}
        }
    }
}

