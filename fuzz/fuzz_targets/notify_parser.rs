//! Any bytes as sd_notify datagrams (split at 0xFF into several): folding
//! them must never panic and must keep what it remembers bounded.
#![no_main]

use corral_supervisor::fuzzing::Summary;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut s = Summary::default();
    for datagram in data.split(|b| *b == 0xFF) {
        s.absorb(datagram);
    }
    assert!(s.rejected.len() <= 4);
    assert!(s.status.as_ref().map_or(0, |t| t.chars().count()) <= 1024);
    let _ = s.is_empty();
});
