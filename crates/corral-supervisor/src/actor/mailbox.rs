//! An actor's mailbox: the dispatcher's commands to one process's actor.
//!
//! A tokio mpsc channel would do, but each allocates a block of 32 slots and
//! its bookkeeping up front (about 0.6 KB), and there is one per process for
//! the whole run. Commands are rare (start, stop, abort, kill) and come from
//! one sender, so a small queue behind a lock and a `Notify` suffices.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::ActorCommand;

#[derive(Default)]
struct Inner {
    queue: Mutex<VecDeque<ActorCommand>>,
    ready: Notify,
    /// The sender is gone: once the queue is empty, `recv` returns `None`.
    closed: AtomicBool,
}

/// The dispatcher's end. Dropping it closes the mailbox.
pub(crate) struct Sender(Arc<Inner>);

/// The actor's end.
pub(crate) struct Receiver(Arc<Inner>);

pub(crate) fn mailbox() -> (Sender, Receiver) {
    let inner = Arc::new(Inner::default());
    (Sender(inner.clone()), Receiver(inner))
}

impl Sender {
    pub(crate) fn send(&self, cmd: ActorCommand) {
        self.0.queue.lock().unwrap().push_back(cmd);
        self.0.ready.notify_one();
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::SeqCst);
        self.0.ready.notify_one();
    }
}

impl Receiver {
    /// The next command; `None` once the sender is gone and nothing is left.
    /// Cancel-safe: a command is taken only when it is returned.
    pub(crate) async fn recv(&mut self) -> Option<ActorCommand> {
        loop {
            if let Some(cmd) = self.0.queue.lock().unwrap().pop_front() {
                return Some(cmd);
            }
            if self.0.closed.load(Ordering::SeqCst) {
                return None;
            }
            // notify_one stores a permit when nobody waits, so nothing sent
            // between the checks above and this wait is missed.
            self.0.ready.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn commands_arrive_in_order_and_the_end_is_seen_after_them() {
        let (tx, mut rx) = mailbox();
        tx.send(ActorCommand::Start);
        tx.send(ActorCommand::Stop);
        assert_eq!(rx.recv().await, Some(ActorCommand::Start));
        let waiter = tokio::spawn(async move {
            let mut got = vec![rx.recv().await];
            got.push(rx.recv().await);
            got.push(rx.recv().await);
            got
        });
        tokio::task::yield_now().await;
        tx.send(ActorCommand::Kill);
        drop(tx);
        assert_eq!(waiter.await.unwrap(), [Some(ActorCommand::Stop), Some(ActorCommand::Kill), None]);
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_for_a_later_command() {
        let (tx, mut rx) = mailbox();
        let waiter = tokio::spawn(async move { rx.recv().await });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        tx.send(ActorCommand::Abort);
        assert_eq!(waiter.await.unwrap(), Some(ActorCommand::Abort));
    }
}
