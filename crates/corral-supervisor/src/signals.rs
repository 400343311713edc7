//! The signals that stop a run. Registering them with tokio replaces their
//! default action for the life of the process, so corral implements both
//! steps itself: the first signal stops the set in order, a second one kills
//! every process group at once.

use std::io;

use tokio::signal::unix::{signal, Signal, SignalKind};

pub struct StopSignals {
    int: Signal,
    term: Signal,
    hup: Signal,
    /// Stop signals received so far in this run (a second one means "now").
    received: u32,
}

impl StopSignals {
    pub fn new() -> io::Result<StopSignals> {
        Ok(StopSignals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
            received: 0,
        })
    }

    /// Waits for the next stop signal; returns its name.
    pub async fn next(&mut self) -> &'static str {
        let name = tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
            _ = self.hup.recv() => "SIGHUP",
        };
        self.received += 1;
        name
    }

    /// How many stop signals the run has received so far, whoever waited for them.
    pub fn received(&self) -> u32 {
        self.received
    }
}
