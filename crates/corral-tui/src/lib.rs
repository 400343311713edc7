//! corral's dashboard: a terminal client of a running corral's control
//! socket, through `corral-protocol` only, so any number of dashboards can
//! watch one set and quitting one leaves the set running.
//!
//! Cheap by construction: the screen is redrawn when something happens (an
//! event from the set, a key, a resize), never on a timer, and at most 20
//! times a second under a flood of output; the clock ticks once a second
//! only while something on screen counts time (uptime, backoff); CPU and
//! memory are sampled at most once a second and only while the table shows;
//! log lines live in bounded rings.
//!
//! - [`app`]: the state and what keys and events do to it (pure, tested);
//! - [`view`]: drawing it; [`theme`]: symbols and colours (NO_COLOR);
//! - [`keys`]: every key, which the help lists;
//! - [`logs`]: bounded buffers, sanitising, search; [`sample`]: /proc figures;
//! - [`term`]: the terminal, the threads (server events, terminal input,
//!   requests) and the loop that ties them to the [`app`].

mod app;
mod keys;
mod logs;
mod sample;
mod theme;
mod view;
mod term;

pub use term::{run, Options, Outcome};
