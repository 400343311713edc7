//! Resources corral sets up for processes before they start: allocated ports
//! and bound listening sockets.

pub(crate) mod listeners;
pub(crate) mod ports;
