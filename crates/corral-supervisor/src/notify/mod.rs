//! sd_notify: a process reports readiness, status, watchdog pings and more on
//! `$NOTIFY_SOCKET`. [`message`] parses, [`socket`] receives.

pub mod message;
pub mod socket;

pub use message::Summary;
pub(crate) use socket::{check_path_len, NotifySocket};
