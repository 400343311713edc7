//! The run's one source of outside requests, used in every phase (pre_hook,
//! processes, stopping, post_hook): the stop signals, and the control
//! socket's requests.
//!
//! Registering the signals with tokio replaces their default action for the
//! life of the process, so corral implements both steps itself: the first
//! signal stops the set in order, a second one kills every process group at
//! once. A `down` request is a stop like a signal, in every phase.
//!
//! While the dispatcher runs, it takes every request ([`StopSignals::next_input`]).
//! Before it (the pre_hook) and after it (the post_hook, the pre_hook's EXIT
//! trap), the hook's one waiting place (`hooks::stop::supervise`) takes them
//! with [`StopSignals::next`], which answers `ps` itself from the
//! processes as they stand (all pending before; as they ended after) so the
//! socket never goes silent; other requests made before the processes start
//! wait for the dispatcher, and after it they get "the run is ending". A
//! stop signal is *forced* from the run's second on; a `down` never is (a
//! repeated `down` is the stop already under way, as in the dispatcher).

use std::io;

use corral_protocol::{ErrorBody, ErrorCode, ProcessInfo, Response};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc;

use crate::dispatcher::{ControlRequest, Ctl};

pub(crate) struct StopSignals {
    int: Signal,
    term: Signal,
    hup: Signal,
    /// The control socket's requests, when it serves this run.
    requests: Option<mpsc::UnboundedReceiver<ControlRequest>>,
    /// What `ps` answers while no dispatcher runs.
    standing: Vec<ProcessInfo>,
    /// Whether the processes have run (the dispatcher has ended).
    after: bool,
    /// Requests made before the processes started, for the dispatcher.
    parked: Vec<ControlRequest>,
    /// Stop signals received so far in this run (a second one means "now").
    received: u32,
}

/// A stop for a phase without a dispatcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stop {
    /// The signal's name, or "a down request".
    pub what: &'static str,
    /// The run's second (or later) stop signal: kill at once. A `down` never forces.
    pub forced: bool,
}

/// What reaches the dispatcher.
#[derive(Debug)]
pub(crate) enum RunInput {
    /// SIGINT, SIGTERM or SIGHUP (named).
    Stop(&'static str),
    Control(ControlRequest),
}

impl StopSignals {
    pub(crate) fn new() -> io::Result<StopSignals> {
        Ok(StopSignals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
            requests: None,
            standing: Vec::new(),
            after: false,
            parked: Vec::new(),
            received: 0,
        })
    }

    /// Takes the control socket's requests; `names` are the run's processes (all pending for now).
    pub(crate) fn serve(&mut self, requests: mpsc::UnboundedReceiver<ControlRequest>, names: impl Iterator<Item = String>) {
        self.requests = Some(requests);
        self.standing = names.map(pending).collect();
    }

    /// The dispatcher has ended: `ps` answers with the processes as they ended.
    pub(crate) fn processes_ended(&mut self, standing: Vec<ProcessInfo>) {
        self.standing = standing;
        self.after = true;
    }

    /// Requests made before the dispatcher ran, in order. From here the
    /// dispatcher answers `ps` until [`StopSignals::processes_ended`]: the
    /// pending list goes (a few hundred bytes a process).
    pub(crate) fn take_parked(&mut self) -> Vec<ControlRequest> {
        self.standing = Vec::new();
        std::mem::take(&mut self.parked)
    }

    /// For the dispatcher: the next stop signal or control request. Cancel-safe.
    pub(crate) async fn next_input(&mut self) -> RunInput {
        let input = tokio::select! {
            _ = self.int.recv() => RunInput::Stop("SIGINT"),
            _ = self.term.recv() => RunInput::Stop("SIGTERM"),
            _ = self.hup.recv() => RunInput::Stop("SIGHUP"),
            Some(req) = recv(&mut self.requests) => RunInput::Control(req),
        };
        if let RunInput::Stop(_) = input {
            self.received += 1;
        }
        input
    }

    /// For the phases without a dispatcher (the hooks, see `hooks::stop`):
    /// waits for the next stop (a signal, or a `down` request), answering
    /// `ps` meanwhile. Cancel-safe.
    pub(crate) async fn next(&mut self) -> Stop {
        loop {
            let req = match self.next_input().await {
                RunInput::Stop(sig) => return Stop { what: sig, forced: self.received >= 2 },
                RunInput::Control(req) => req,
            };
            match req.ctl {
                Ctl::Ps => {
                    let _ = req.reply.send(Ok(Response::Processes(self.standing.clone())));
                }
                Ctl::Down => {
                    let _ = req.reply.send(Ok(Response::Stopping { stopping: true }));
                    return Stop { what: "a down request", forced: false };
                }
                _ if self.after => {
                    let _ = req.reply.send(Err(ErrorBody { code: ErrorCode::Failed, message: "the run is ending".into() }));
                }
                _ => self.parked.push(req),
            }
        }
    }
}

fn pending(name: String) -> ProcessInfo {
    ProcessInfo::pending(name)
}

async fn recv<T>(r: &mut Option<mpsc::UnboundedReceiver<T>>) -> Option<T> {
    match r {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}
