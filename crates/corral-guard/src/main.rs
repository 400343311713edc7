//! The `corral-guard` executable: no std, no libc, its own `_start`; all of
//! it is in this crate's library (see lib.rs). Compiled and linked by
//! crates/corral/build.rs, not by cargo.

#![no_std]
#![no_main]
#![no_builtins]

corral_guard::binary!();
