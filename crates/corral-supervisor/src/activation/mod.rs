//! Resources corral sets up for processes before they start: allocated ports
//! and bound listening sockets.

pub mod listeners;
pub mod ports;
