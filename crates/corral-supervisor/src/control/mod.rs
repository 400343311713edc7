//! The control socket: how `corral ps`, `logs`, `stop`, `down` … talk to a
//! running corral (detached or in the foreground), and how a dashboard will.
//!
//! The messages are the `corral-protocol` crate's (shared with every client);
//! [`project`] says where a project's socket and lock live, `server` is the
//! listening side inside `corral up`.

pub mod project;
pub(crate) mod server;
