//! Any bytes as a control-socket request line: decoding must never panic; an
//! error must be a well-formed reply; a request that decodes must survive a
//! round trip unchanged.
#![no_main]

use corral_protocol::{parse_request, Request, ServerMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse_request(data) {
        Ok(req) => {
            let line = serde_json::to_vec(&req).unwrap();
            let again: Request = parse_request(&line).expect("a decoded request re-encodes");
            assert_eq!(again, req);
        }
        Err(reply) => {
            let line = ServerMessage::from(reply).to_line();
            let back: ServerMessage = serde_json::from_slice(&line).unwrap();
            assert_eq!(back.ok, Some(false));
        }
    }
});
