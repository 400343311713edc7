//! The terminals of running `is_tty` processes, by process name, for
//! `attach NAME`: the actor registers its process's terminal for each run
//! (and removes it when the run ends); the control server looks it up to copy
//! the process's bytes to the client and the client's keystrokes and window
//! size to the process. Kept beside the output feed, which both already share.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

/// Chunks of terminal output an attached client may fall behind by.
const QUEUE: usize = 256;

/// One running process's terminal.
#[derive(Clone)]
pub(crate) struct Terminal {
    pub(crate) keys: Keys,
    /// Everything the process writes, as it comes; closed once the process's
    /// side is closed and the run is over (so an attached client sees the end).
    pub(crate) output: broadcast::Sender<Arc<[u8]>>,
}

impl Terminal {
    pub(crate) fn new(master: OwnedFd) -> Terminal {
        Terminal { keys: Keys(Arc::new(master)), output: broadcast::channel(QUEUE).0 }
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
