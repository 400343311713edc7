//! The control socket: how `corral ps`, `logs`, `stop`, `down` … talk to a
//! running corral (detached or in the foreground), and how a future TUI will.
//!
//! [`protocol`] is the wire format, [`project`] where a project's socket and
//! lock live, [`server`] the listening side inside `corral up`, [`client`] the
//! other side.

pub mod client;
pub mod limits;
pub mod project;
pub mod protocol;
pub mod server;
