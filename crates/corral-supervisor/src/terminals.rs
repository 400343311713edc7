//! The terminals of running `is_tty` processes, by process name, for
//! `attach NAME`: the actor registers its process's terminal for each run
//! (and removes it when the run ends); the control server looks it up to copy
//! the process's bytes to the client and the client's keystrokes and window
//! size to the process. Kept beside the output feed, which both already share.

use std::collections::{HashMap, VecDeque};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

/// Chunks of terminal output an attached client may fall behind by.
const QUEUE: usize = 256;
/// The latest bytes a terminal keeps for a client that attaches later (a
/// prompt printed before `attach` or `run` connected must still be seen).
const RECENT: usize = 8 * 1024;

/// One running process's terminal.
#[derive(Clone)]
pub(crate) struct Terminal {
    pub(crate) keys: Keys,
    /// Everything the process writes, as it comes; closed once the process's
    /// side is closed and the run is over (so an attached client sees the end).
    pub(crate) output: Output,
}

impl Terminal {
    pub(crate) fn new(master: OwnedFd) -> Terminal {
        Terminal { keys: Keys(Arc::new(master)), output: Output { followers: broadcast::channel(QUEUE).0, recent: Arc::default() } }
    }
}

/// A terminal's output: its followers, and the latest bytes for the next one.
#[derive(Clone)]
pub(crate) struct Output {
    followers: broadcast::Sender<Arc<[u8]>>,
    recent: Arc<Mutex<VecDeque<u8>>>,
}

impl Output {
    /// What the process wrote: kept, and sent to every follower.
    pub(crate) fn publish(&self, bytes: &[u8]) {
        let mut recent = self.recent.lock().unwrap();
        recent.extend(bytes);
        let over = recent.len().saturating_sub(RECENT);
        recent.drain(..over);
        let _ = self.followers.send(bytes.into());
    }

    /// A new follower: the latest bytes, then everything after them (no gap,
    /// no repeat: both are taken under the lock `publish` holds).
    pub(crate) fn follow(&self) -> (Vec<u8>, broadcast::Receiver<Arc<[u8]>>) {
        let recent = self.recent.lock().unwrap();
        (recent.iter().copied().collect(), self.followers.subscribe())
    }
}

/// corral's side of the pseudo-terminal, for keystrokes and the window size.
#[derive(Clone)]
pub(crate) struct Keys(Arc<OwnedFd>);

impl Keys {
    /// Writes keystrokes into the terminal; the rest is dropped if it cannot take them now.
    pub(crate) fn input(&self, mut data: &[u8]) {
        while !data.is_empty() {
            match nix::unistd::write(&*self.0, data) {
                Ok(n) => data = &data[n..],
                Err(nix::errno::Errno::EINTR) => continue,
                Err(nix::errno::Errno::EAGAIN) => {
                    tracing::debug!("terminal input: the process is not reading; {} byte(s) dropped", data.len());
                    return;
                }
                Err(e) => {
                    tracing::debug!("terminal input: {e}");
                    return;
                }
            }
        }
    }

    pub(crate) fn resize(&self, cols: u16, rows: u16) {
        if let Err(e) = crate::platform::pty::resize(self.0.as_raw_fd(), crate::platform::pty::Size { cols, rows }) {
            tracing::debug!("terminal resize: {e}");
        }
    }
}

#[derive(Default)]
pub(crate) struct Terminals(Mutex<HashMap<String, Terminal>>);

impl Terminals {
    pub(crate) fn set(&self, name: &str, t: Terminal) {
        self.0.lock().unwrap().insert(name.to_string(), t);
    }

    /// Removes `name`'s terminal: attached clients see its output end.
    pub(crate) fn remove(&self, name: &str) {
        self.0.lock().unwrap().remove(name);
    }

    pub(crate) fn get(&self, name: &str) -> Option<Terminal> {
        self.0.lock().unwrap().get(name).cloned()
    }
}
